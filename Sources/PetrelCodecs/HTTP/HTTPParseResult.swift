/// What `HTTPRequestParser.next` found in the bytes fed so far.
public enum HTTPParseResult {
    case request(HTTPRequest)
    /// Everything fed so far is a prefix of a request: feed more.
    case needMore
    /// The request is malformed or over a limit: answer `status` and close. The parser is dead.
    case failure(HTTPParseError)
}

/// What `HTTPRequestParser.nextHead` found: a head (its body still to read), or as `next`.
public enum HTTPHeadResult {
    case head(HTTPRequestHead, HTTPBodyFraming)
    case needMore
    case failure(HTTPParseError)
}

/// What `HTTPRequestParser.readBody` did.
public enum HTTPBodyRead: Equatable {
    /// This many body bytes were copied out.
    case bytes(Int)
    /// The body is complete: the parser is between requests.
    case end
    /// No body byte is buffered: feed more.
    case needMore
    /// Malformed framing or over `maxBodyBytes` (413): the parser is dead.
    case failure(HTTPParseError)
}

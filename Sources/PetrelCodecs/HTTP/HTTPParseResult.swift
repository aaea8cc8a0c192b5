/// What `HTTPRequestParser.next` found in the bytes fed so far.
public enum HTTPParseResult {
    case request(HTTPRequest)
    /// Everything fed so far is a prefix of a request: feed more.
    case needMore
    /// The request is malformed or over a limit: answer `status` and close. The parser is dead.
    case failure(HTTPParseError)
}

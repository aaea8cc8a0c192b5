/// Incremental HTTP/1.1 request parser (RFC 9112): fed bytes as they arrive, returns complete
/// requests one at a time, so pipelined requests and the WebSocket frames that follow an upgrade
/// request are left in place for the caller.
///
/// Cost: bytes are scanned once (scan positions survive between feeds, so a slow client cannot
/// make parsing quadratic); the head is decoded only when complete, into one String per method,
/// target, field name and value. Limits: `maxHeaderBytes` for the request line and fields together
/// (431; 414 for a request line alone over it), `maxBodyBytes` (413, before the body is read when
/// Content-Length announces it). After a `.failure` the parser is dead.
///
/// Two ways to take requests, chosen per request:
/// - whole: `next()` returns head and body together (the body buffered, up to `maxBodyBytes`);
/// - streamed: `nextHead()` returns the head alone, then `readBody(into:)` copies the
///   (de-chunked) body out piece by piece as it arrives, so a proxy holds only what its next hop
///   has not taken yet. After `nextHead()` a caller may still call `next()` for that request
///   (before any `readBody`) to have the body buffered after all.
/// Both give the same bytes for every split of the input (checked by the FuzzHTTPParser target).
public struct HTTPRequestParser {
    public let maxHeaderBytes: Int
    public let maxBodyBytes: Int
    /// A chunk-size line (hex size plus ignored extensions, RFC 9112 §7.1.1) longer than this fails with 400.
    public static let maxChunkSizeLineBytes = 1024

    /// Bytes fed; those before `readIndex` belong to requests already returned or to skipped framing.
    private var buffer: [UInt8] = []
    private var readIndex = 0
    private var phase = Phase.head(scanned: 0, lineStart: 0)
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    /// Body bytes of the current request so far, buffered or streamed (the limit counts both).
    private var bodyCount = 0

    /// Offsets in `Phase` are relative to `readIndex`, so compacting the buffer never invalidates them.
    private enum Phase {
        case head(scanned: Int, lineStart: Int)
        case fixedBody(length: Int)
        case chunkSizeLine(scanned: Int)
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers(scanned: Int, lineStart: Int)
        /// The body is complete; the head (and, when buffering, the body) wait to be returned.
        case bodyDone
        case failed(HTTPParseError)
    }

    public init(maxHeaderBytes: Int = 8192, maxBodyBytes: Int) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
    }

    public var bufferedByteCount: Int { buffer.count - readIndex }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        if case .failed = phase { return }
        if readIndex > 0 {
            if readIndex == buffer.count {
                buffer.removeAll(keepingCapacity: true)
            } else {
                buffer.removeSubrange(0..<readIndex)
            }
            readIndex = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// Bytes fed but not consumed by returned requests (after an Upgrade request these are WebSocket frames).
    public mutating func takeUnconsumedBytes() -> [UInt8] {
        let unconsumed = Array(buffer[readIndex...])
        buffer = []
        readIndex = 0
        if case .failed = phase {} else { phase = .head(scanned: 0, lineStart: 0) }
        head = nil
        body = []
        bodyCount = 0
        return unconsumed
    }

    /// Next complete request from what was fed (pipelining: call again until .needMore). After
    /// .failure the parser is dead (the gateway answers the status and closes).
    public mutating func next() -> HTTPParseResult {
        while true {
            switch phase {
            case .failed(let error):
                return .failure(error)
            case .head(let scanned, let lineStart):
                if let result = advanceHead(scanned: scanned, lineStart: lineStart) { return result }
            case .fixedBody(let length):
                guard bufferedByteCount >= length else { return .needMore }
                body += buffer[readIndex..<(readIndex + length)]
                readIndex += length
                bodyCount += length
                return finishRequest()
            case .chunkSizeLine(let scanned):
                if let result = advanceChunkSizeLine(scanned: scanned) { return result }
            case .chunkData(let remaining):
                let count = Swift.min(remaining, bufferedByteCount)
                if body.isEmpty { body.reserveCapacity(remaining) }
                body.append(contentsOf: buffer[readIndex..<(readIndex + count)])
                readIndex += count
                bodyCount += count
                if count < remaining {
                    phase = .chunkData(remaining: remaining - count)
                    return .needMore
                }
                phase = .chunkDataEnd
            case .chunkDataEnd:
                if let result = advanceChunkDataEnd() { return result }
            case .trailers(let scanned, let lineStart):
                if let result = advanceTrailers(scanned: scanned, lineStart: lineStart) { return result }
            case .bodyDone:
                return finishRequest()
            }
        }
    }

    // MARK: - Streaming

    /// Whether the parser is at a request boundary (possibly inside the next request's head):
    /// false inside a body and after a failure. A response given now may keep the connection.
    public var isBetweenRequests: Bool {
        switch phase {
        case .head, .bodyDone: return true
        default: return false
        }
    }

    /// Whether the parser is inside a request's body (its head returned by `nextHead`, the body
    /// not read to its end): bytes still to come from the client belong to that body.
    public var isReadingBody: Bool {
        switch phase {
        case .fixedBody, .chunkSizeLine, .chunkData, .chunkDataEnd, .trailers: return true
        case .head, .bodyDone, .failed: return false
        }
    }

    /// The next request's head, and how its body is framed, without waiting for the body: read it
    /// with `readBody(into:)` (or buffer it with `next()`). Call only between requests (a request
    /// whose body was read to its end counts as over). `.request` is never returned.
    public mutating func nextHead() -> HTTPHeadResult {
        if case .bodyDone = phase { reset() }
        while true {
            switch phase {
            case .failed(let error):
                return .failure(error)
            case .head(let scanned, let lineStart):
                if let result = advanceHead(scanned: scanned, lineStart: lineStart) {
                    if case .failure(let error) = result { return .failure(error) }
                    return .needMore
                }
                if case .head = phase { continue }
                return .head(head!, framing)
            default:
                assertionFailure("nextHead inside a body")
                return .needMore
            }
        }
    }

    /// Copies the next body bytes of the request whose head `nextHead` returned into `into`.
    /// `.end` once the body is complete (the parser is then between requests: what follows is the
    /// next request); `.needMore` when no body byte is buffered yet. Bytes are returned before a
    /// failure met after them, which the next call reports.
    public mutating func readBody(into destination: UnsafeMutableRawBufferPointer) -> HTTPBodyRead {
        var written = 0
        func copy(_ count: Int) {
            buffer.withUnsafeBytes { all in
                destination.baseAddress!.advanced(by: written)
                    .copyMemory(from: all.baseAddress!.advanced(by: readIndex), byteCount: count)
            }
            written += count
            readIndex += count
            bodyCount += count
        }
        while true {
            let room = destination.count - written
            switch phase {
            case .failed(let error):
                return written > 0 ? .bytes(written) : .failure(error)
            case .head:
                return written > 0 ? .bytes(written) : .end
            case .bodyDone:
                reset()
                return written > 0 ? .bytes(written) : .end
            case .fixedBody(let remaining):
                let count = Swift.min(remaining, bufferedByteCount, room)
                if count == 0 { return written > 0 ? .bytes(written) : .needMore }
                copy(count)
                phase = count == remaining ? .bodyDone : .fixedBody(length: remaining - count)
            case .chunkData(let remaining):
                let count = Swift.min(remaining, bufferedByteCount, room)
                if count == 0 { return written > 0 ? .bytes(written) : .needMore }
                copy(count)
                phase = count == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - count)
            case .chunkSizeLine(let scanned):
                if let result = advanceChunkSizeLine(scanned: scanned) {
                    return written > 0 ? .bytes(written) : Self.bodyRead(result)
                }
            case .chunkDataEnd:
                if let result = advanceChunkDataEnd() {
                    return written > 0 ? .bytes(written) : Self.bodyRead(result)
                }
            case .trailers(let scanned, let lineStart):
                if let result = advanceTrailers(scanned: scanned, lineStart: lineStart) {
                    return written > 0 ? .bytes(written) : Self.bodyRead(result)
                }
            }
        }
    }

    private static func bodyRead(_ result: HTTPParseResult) -> HTTPBodyRead {
        if case .failure(let error) = result { return .failure(error) }
        return .needMore
    }

    /// The framing of the request whose head was just decoded.
    private var framing: HTTPBodyFraming {
        switch phase {
        case .fixedBody(let length): return .contentLength(length)
        case .chunkSizeLine: return .chunked
        default: return .none
        }
    }

    // MARK: - Head

    /// Scans for the empty line ending the head; returns nil when the phase moved on.
    private mutating func advanceHead(scanned: Int, lineStart: Int) -> HTTPParseResult? {
        var lineStart = lineStart
        let available = bufferedByteCount
        var index = scanned
        while index < available {
            guard let lineFeed = indexOfLineFeed(from: index) else {
                index = available
                break
            }
            // Limits first: a byte past the limit must give the same answer whether or not the
            // rest of its line has arrived yet (found by fuzzing: 400 whole vs 431 split).
            if lineStart == 0 && lineFeed + 1 > maxHeaderBytes { return fail(.requestLineTooLong) }
            if lineFeed + 1 > maxHeaderBytes { return fail(.headerTooLarge) }
            guard lineFeed > 0, buffer[readIndex + lineFeed - 1] == HTTPSyntax.carriageReturn else {
                return fail(.bareLineFeed)
            }
            let isEmptyLine = lineFeed - 1 == lineStart
            if isEmptyLine && lineStart == 0 {
                // RFC 9112 §2.2: empty lines before the request line are skipped.
                readIndex += 2
                phase = .head(scanned: 0, lineStart: 0)
                return nil
            }
            if isEmptyLine {
                return decodeHead(length: lineFeed + 1, fieldsLength: lineStart)
            }
            lineStart = lineFeed + 1
            index = lineStart
        }
        // Fail as soon as the limit is passed, without waiting for a CRLF that may never come.
        if available > maxHeaderBytes {
            return fail(lineStart == 0 ? .requestLineTooLong : .headerTooLarge)
        }
        phase = .head(scanned: index, lineStart: lineStart)
        return .needMore
    }

    private mutating func decodeHead(length: Int, fieldsLength: Int) -> HTTPParseResult? {
        let decoded = buffer.withUnsafeBufferPointer { all in
            HTTPRequestHeadDecoder.decode(UnsafeBufferPointer(rebasing: all[readIndex..<(readIndex + fieldsLength)]))
        }
        let head: HTTPRequestHead
        switch decoded {
        case .success(let decodedHead): head = decodedHead
        case .failure(let error): return fail(error)
        }
        readIndex += length
        self.head = head
        switch HTTPBodyFraming.of(head, maxBodyBytes: maxBodyBytes) {
        case .failure(let error):
            return fail(error)
        case .success(.none):
            phase = .bodyDone
        case .success(.contentLength(let length)):
            phase = .fixedBody(length: length)
        case .success(.chunked):
            phase = .chunkSizeLine(scanned: 0)
        }
        return nil
    }

    // MARK: - Chunked body (RFC 9112 §7.1)

    /// chunk-size [ chunk-ext ] CRLF; returns nil when the phase moved on.
    private mutating func advanceChunkSizeLine(scanned: Int) -> HTTPParseResult? {
        guard let lineFeed = indexOfLineFeed(from: scanned) else {
            if bufferedByteCount > Self.maxChunkSizeLineBytes { return fail(.chunkSizeLineTooLong) }
            phase = .chunkSizeLine(scanned: bufferedByteCount)
            return .needMore
        }
        if lineFeed + 1 > Self.maxChunkSizeLineBytes { return fail(.chunkSizeLineTooLong) }
        guard lineFeed > 0, buffer[readIndex + lineFeed - 1] == HTTPSyntax.carriageReturn else {
            return fail(.bareLineFeed)
        }
        let lineEnd = readIndex + lineFeed - 1
        var index = readIndex
        var size = 0
        while index < lineEnd, let digit = hexValue(buffer[index]) {
            // Refuse as soon as the chunk cannot fit, which also keeps `size` far from overflow.
            size = size * 16 + digit
            if size > maxBodyBytes - bodyCount { return fail(.bodyTooLarge) }
            index += 1
        }
        guard index > readIndex else { return fail(.invalidChunkSize) }
        // Extensions (";name=value", with optional BWS before ';') are ignored, but must be
        // well-formed enough to hold no control bytes.
        if index < lineEnd {
            var extensionStart = index
            while extensionStart < lineEnd && HTTPSyntax.isWhitespace(buffer[extensionStart]) { extensionStart += 1 }
            guard extensionStart < lineEnd, buffer[extensionStart] == UInt8(ascii: ";") else {
                return fail(.invalidChunkSize)
            }
            guard buffer[extensionStart..<lineEnd].allSatisfy(HTTPSyntax.isFieldValueByte) else {
                return fail(.invalidChunkSize)
            }
        }
        readIndex += lineFeed + 1
        if size == 0 {
            phase = .trailers(scanned: 0, lineStart: 0)
        } else {
            phase = .chunkData(remaining: size)
        }
        return nil
    }

    /// The CRLF after a chunk's data; returns nil when the phase moved on.
    private mutating func advanceChunkDataEnd() -> HTTPParseResult? {
        guard bufferedByteCount >= 2 else { return .needMore }
        guard buffer[readIndex] == HTTPSyntax.carriageReturn, buffer[readIndex + 1] == HTTPSyntax.lineFeed else {
            return fail(.missingChunkTerminator)
        }
        readIndex += 2
        phase = .chunkSizeLine(scanned: 0)
        return nil
    }

    /// Trailer fields are read up to the empty line and discarded: nothing downstream uses them,
    /// and merging them into the head is how trailer-based smuggling starts (RFC 9110 §6.5.1).
    private mutating func advanceTrailers(scanned: Int, lineStart: Int) -> HTTPParseResult? {
        var lineStart = lineStart
        var index = scanned
        while let lineFeed = indexOfLineFeed(from: index) {
            if lineFeed + 1 > maxHeaderBytes { return fail(.trailersTooLarge) }
            guard lineFeed > 0, buffer[readIndex + lineFeed - 1] == HTTPSyntax.carriageReturn else {
                return fail(.bareLineFeed)
            }
            if lineFeed - 1 == lineStart {
                readIndex += lineFeed + 1
                phase = .bodyDone
                return nil
            }
            lineStart = lineFeed + 1
            index = lineStart
        }
        if bufferedByteCount > maxHeaderBytes { return fail(.trailersTooLarge) }
        phase = .trailers(scanned: bufferedByteCount, lineStart: lineStart)
        return .needMore
    }

    // MARK: - Helpers

    /// Offset (relative to `readIndex`) of the next LF at or after `start`, or nil.
    private func indexOfLineFeed(from start: Int) -> Int? {
        buffer.withUnsafeBufferPointer { all in
            var index = readIndex + start
            let end = all.count
            while index < end {
                if all[index] == HTTPSyntax.lineFeed { return index - readIndex }
                index += 1
            }
            return nil
        }
    }

    private func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }

    private mutating func finishRequest() -> HTTPParseResult {
        let request = HTTPRequest(head: head!, body: body)
        reset()
        return .request(request)
    }

    /// Between requests again.
    private mutating func reset() {
        head = nil
        body = []
        bodyCount = 0
        phase = .head(scanned: 0, lineStart: 0)
        // An upload grows the buffer to its reads in flight; a keep-alive connection that then
        // sits idle should not keep that capacity (hundreds of KiB) until its next request.
        if readIndex == buffer.count && buffer.capacity > Self.retainedBufferCapacity {
            buffer = []
            readIndex = 0
        }
    }

    /// What an idle parser keeps: enough for a head and one ordinary read.
    static let retainedBufferCapacity = 16 * 1024
    var bufferCapacity: Int { buffer.capacity }

    private mutating func fail(_ error: HTTPParseError) -> HTTPParseResult {
        phase = .failed(error)
        buffer = []
        readIndex = 0
        head = nil
        body = []
        bodyCount = 0
        return .failure(error)
    }
}

/// Incremental HTTP/1.1 response decoder for the client side of a kept-alive backend connection
/// (RFC 9112): fed the connection's reads as they come, it returns each response's head, then its
/// body as ranges of the read, then its end, and leaves the bytes after that end in place.
///
/// Strict wherever two parsers could read the same bytes differently, because the gateway
/// re-frames the body for its own client and sends the next request on the same connection: a
/// response whose end is ambiguous is refused, never guessed.
///
/// Cost: a head that arrives whole is decoded straight from the read, line by line; only a line
/// split across reads is copied, into a buffer kept (up to `retainedLineCapacity`) from one
/// response to the next. Body bytes are never copied: chunk framing is skipped around them.
/// Strings are built only for the final head's names and values; 1xx heads are checked, not kept.
///
/// Every response begins with `start(requestWasHEAD:)`, the first one included: calling `next`
/// before it, or after `.end` without it, is a precondition failure, as bytes decoded then would
/// belong to no request. After a thrown error the decoder rethrows it until `start`.
public struct HTTPResponseDecoder: Sendable {
    public enum Event: Equatable, Sendable {
        /// Everything given was consumed (possibly into the decoder's own head buffer); call again with more bytes.
        case needMore
        /// The final (non-1xx) response's status and header fields, in wire order, names as spelled by the server,
        /// values with surrounding OWS trimmed. Comes before any body event.
        case head(status: Int, headers: [HTTPHeaderField])
        /// Body bytes (transfer coding already removed: chunk framing never appears here) at these offsets of the
        /// buffer passed to `next` — zero copy.
        case body(Range<Int>)
        /// The response is complete. `reusable`: the connection may carry another request (HTTP/1.1, no
        /// `Connection: close` token, not close-delimited). Bytes after the end stay unconsumed at `offset`.
        case end(reusable: Bool)
    }

    public struct HTTPHeaderField: Equatable, Sendable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// Status line and fields together, 1xx heads included; also the limit of a trailer section.
    public let maxHeadBytes: Int
    /// A chunk-size line (hex size, ignored extensions, line end) longer than this is refused.
    public static var maxChunkSizeLineBytes: Int { 4096 }
    /// A line buffer grown past this by a long field is dropped at `start` rather than kept idle.
    static var retainedLineCapacity: Int { 4096 }

    private var phase = Phase.awaitingStart
    private var requestWasHEAD = false
    /// At least one byte of the current response has been received.
    public private(set) var hasReceivedBytes = false

    /// The start of a head or trailer line whose line end has not arrived yet.
    private var lineBuffer: [UInt8] = []
    /// Bytes of the current head section (1xx heads included) or trailer section in complete lines.
    private var sectionBytes = 0

    /// The head being read: 0 until its status line is.
    private var status = 0
    private var isHTTP10 = false
    private var fields: [HTTPHeaderField] = []
    private var framing = FramingFields()
    /// Decided with the head, returned with `.end`.
    private var reusable = false
    private var chunkSizeLine = ChunkSizeLine()

    private enum Phase {
        case awaitingStart
        case head
        case fixedBody(remaining: Int)
        case chunkSizeLine
        case chunkData(remaining: Int)
        /// The CRLF after a chunk's data, `sawCR` once its CR is taken.
        case chunkDataEnd(sawCR: Bool)
        case trailers
        case untilClose
        /// The body is complete: `.end` comes next.
        case complete
        case failed(HTTPResponseDecodeError)
    }

    public init(maxHeadBytes: Int = 64 * 1024) {
        precondition(maxHeadBytes > 0, "maxHeadBytes must leave room for a status line")
        self.maxHeadBytes = maxHeadBytes
    }

    /// Prepares for the response to the next request; `requestWasHEAD` because a response to HEAD has no body
    /// whatever its headers say.
    public mutating func start(requestWasHEAD: Bool) {
        self.requestWasHEAD = requestWasHEAD
        phase = .head
        hasReceivedBytes = false
        sectionBytes = 0
        status = 0
        fields = []
        if lineBuffer.capacity > Self.retainedLineCapacity {
            lineBuffer = []
        } else {
            lineBuffer.removeAll(keepingCapacity: true)
        }
    }

    /// Decodes from `bytes[offset...]` and advances `offset` past what it consumed. Call repeatedly until `.needMore`.
    /// After a throw `offset` is unspecified: the connection is unusable anyway.
    public mutating func next(
        _ bytes: UnsafeRawBufferPointer, offset: inout Int
    ) throws(HTTPResponseDecodeError) -> Event {
        precondition(offset >= 0 && offset <= bytes.count, "offset outside the buffer")
        do throws(HTTPResponseDecodeError) {
            return try decode(bytes.assumingMemoryBound(to: UInt8.self), offset: &offset)
        } catch {
            fail(error)
            throw error
        }
    }

    /// The server closed the connection. For a close-delimited body this is its end: returns `.end(reusable: false)`.
    /// Anything else unfinished (partial head, short content-length body, unfinished chunked body) throws `.truncated`.
    /// Before any byte of the response was received, throws `.closedBeforeResponse` (the caller retries a request
    /// sent on a stale kept-alive connection in that case).
    public mutating func finishAtEOF() throws(HTTPResponseDecodeError) -> Event {
        let error: HTTPResponseDecodeError
        switch phase {
        case .failed(let failure):
            throw failure
        case .untilClose, .complete:
            phase = .awaitingStart
            return .end(reusable: false)
        case .awaitingStart:
            error = .closedBeforeResponse
        case .head:
            error = hasReceivedBytes ? .truncated : .closedBeforeResponse
        case .fixedBody, .chunkSizeLine, .chunkData, .chunkDataEnd, .trailers:
            error = .truncated
        }
        fail(error)
        throw error
    }

    private mutating func decode(
        _ input: UnsafeBufferPointer<UInt8>, offset: inout Int
    ) throws(HTTPResponseDecodeError) -> Event {
        while true {
            switch phase {
            case .awaitingStart:
                preconditionFailure("HTTPResponseDecoder.next without start(requestWasHEAD:) for this response")
            case .failed(let error):
                throw error
            case .head:
                if offset < input.count { hasReceivedBytes = true }
                return try readHead(input, offset: &offset) ?? .needMore
            case .fixedBody(let remaining):
                let count = Swift.min(remaining, input.count &- offset)
                if count == 0 { return .needMore }
                phase = count == remaining ? .complete : .fixedBody(remaining: remaining &- count)
                return Self.body(count, offset: &offset)
            case .chunkSizeLine:
                guard let size = try chunkSizeLine.scan(input, offset: &offset) else { return .needMore }
                if size == 0 {
                    sectionBytes = 0
                    phase = .trailers
                } else {
                    phase = .chunkData(remaining: size)
                }
            case .chunkData(let remaining):
                let count = Swift.min(remaining, input.count &- offset)
                if count == 0 { return .needMore }
                phase = count == remaining ? .chunkDataEnd(sawCR: false) : .chunkData(remaining: remaining &- count)
                return Self.body(count, offset: &offset)
            case .chunkDataEnd(let sawCR):
                // Exactly CRLF: a bare LF here would let a lenient reader and a strict one disagree
                // on where the next chunk-size line starts.
                guard offset < input.count else { return .needMore }
                let byte = input[offset]
                offset &+= 1
                if !sawCR {
                    guard byte == HTTPSyntax.carriageReturn else { throw .badChunk }
                    phase = .chunkDataEnd(sawCR: true)
                } else {
                    guard byte == HTTPSyntax.lineFeed else { throw .badChunk }
                    chunkSizeLine = ChunkSizeLine()
                    phase = .chunkSizeLine
                }
            case .trailers:
                guard try readTrailers(input, offset: &offset) else { return .needMore }
                phase = .complete
            case .untilClose:
                let count = input.count &- offset
                if count == 0 { return .needMore }
                return Self.body(count, offset: &offset)
            case .complete:
                phase = .awaitingStart
                return .end(reusable: reusable)
            }
        }
    }

    @inline(__always)
    private static func body(_ count: Int, offset: inout Int) -> Event {
        let range = offset..<(offset &+ count)
        offset &+= count
        return .body(range)
    }

    private mutating func fail(_ error: HTTPResponseDecodeError) {
        phase = .failed(error)
        lineBuffer = []
        fields = []
    }

    // MARK: - Lines

    /// Calls `body` with the next line of a head or trailer section, line end removed: straight
    /// from `input` when the whole line is there, from `lineBuffer` when it was split across reads.
    /// Returns nil when `input` ran out first, its bytes kept in `lineBuffer`.
    ///
    /// A line ends at LF, with or without CR before it (RFC 9112 §2.2 lets a recipient accept a
    /// bare LF, and backends do send them); a CR anywhere else is left in the line for `body` to refuse.
    private mutating func withNextLine<Result>(
        _ input: UnsafeBufferPointer<UInt8>, offset: inout Int, tooLarge: HTTPResponseDecodeError,
        _ body: (inout Self, UnsafeBufferPointer<UInt8>) throws(HTTPResponseDecodeError) -> Result
    ) throws(HTTPResponseDecodeError) -> Result? {
        let start = offset
        let available = input.count &- start
        let room = maxHeadBytes &- sectionBytes &- lineBuffer.count
        let end = start &+ Swift.min(available, room)
        var lineFeed = start
        while lineFeed < end && input[lineFeed] != HTTPSyntax.lineFeed { lineFeed &+= 1 }
        if lineFeed == end {
            // Decided by position alone, before the line is looked at, so that the same bytes get the
            // same answer however the reads split them.
            if room <= available { throw tooLarge }
            lineBuffer.append(contentsOf: UnsafeBufferPointer(rebasing: input[start..<end]))
            offset = end
            return nil
        }
        offset = lineFeed &+ 1
        sectionBytes &+= lineBuffer.count &+ (offset &- start)
        if lineBuffer.isEmpty {
            var lineEnd = lineFeed
            if lineEnd > start && input[lineEnd &- 1] == HTTPSyntax.carriageReturn { lineEnd &-= 1 }
            return try body(&self, UnsafeBufferPointer(rebasing: input[start..<lineEnd]))
        }
        lineBuffer.append(contentsOf: UnsafeBufferPointer(rebasing: input[start..<lineFeed]))
        if lineBuffer.last == HTTPSyntax.carriageReturn { lineBuffer.removeLast() }
        // Moved out so that `body` may mutate the decoder while reading the line; moved back
        // emptied, keeping its capacity for the next split line.
        var line: [UInt8] = []
        swap(&line, &lineBuffer)
        defer {
            line.removeAll(keepingCapacity: true)
            swap(&line, &lineBuffer)
        }
        return try line.withUnsafeBufferPointer { buffered throws(HTTPResponseDecodeError) in
            try body(&self, buffered)
        }
    }

    // MARK: - Head (RFC 9112 §4, §5)

    /// Takes head lines until the final response's head is complete (returned as `.head`), or
    /// until `input` is used up (nil).
    private mutating func readHead(
        _ input: UnsafeBufferPointer<UInt8>, offset: inout Int
    ) throws(HTTPResponseDecodeError) -> Event? {
        while let lineResult = try withNextLine(input, offset: &offset, tooLarge: .headTooLarge, { decoder, line throws(HTTPResponseDecodeError) in
            try decoder.takeHeadLine(line)
        }) {
            if let event = lineResult { return event }
        }
        return nil
    }

    private mutating func takeHeadLine(_ line: UnsafeBufferPointer<UInt8>) throws(HTTPResponseDecodeError) -> Event? {
        if status == 0 {
            try takeStatusLine(line)
            return nil
        }
        if line.isEmpty { return try endHead() }
        let (name, value) = try Self.splitFieldLine(line)
        // A 1xx head's fields are checked like any others but describe nothing the caller receives.
        if status >= 200 {
            framing.take(name: name, value: value)
            if fields.isEmpty { fields.reserveCapacity(16) }
            fields.append(HTTPHeaderField(
                name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self)))
        }
        return nil
    }

    /// status-line = HTTP-version SP status-code SP [ reason-phrase ]. The SP before an empty reason
    /// is also accepted when missing: common servers omit it, and nothing depends on the reason.
    private mutating func takeStatusLine(_ line: UnsafeBufferPointer<UInt8>) throws(HTTPResponseDecodeError) {
        guard line.count >= 8, line[0] == UInt8(ascii: "H"), line[1] == UInt8(ascii: "T"),
              line[2] == UInt8(ascii: "T"), line[3] == UInt8(ascii: "P"), line[4] == UInt8(ascii: "/"),
              Self.isDigit(line[5]), line[6] == UInt8(ascii: "."), Self.isDigit(line[7]) else {
            throw .badStatusLine
        }
        guard line[5] == UInt8(ascii: "1"), line[7] <= UInt8(ascii: "1") else { throw .unsupportedVersion }
        guard line.count >= 12, line[8] == HTTPSyntax.space,
              line[9] >= UInt8(ascii: "1") && line[9] <= UInt8(ascii: "5"),
              Self.isDigit(line[10]), Self.isDigit(line[11]) else {
            throw .badStatusLine
        }
        if line.count > 12 {
            guard line[12] == HTTPSyntax.space else { throw .badStatusLine }
            var index = 13
            while index < line.count {
                guard HTTPSyntax.isFieldValueByte(line[index]) else { throw .badStatusLine }
                index &+= 1
            }
        }
        let code = Int(line[9] &- UInt8(ascii: "0")) &* 100 &+ Int(line[10] &- UInt8(ascii: "0")) &* 10
            &+ Int(line[11] &- UInt8(ascii: "0"))
        if code == 101 { throw .unexpectedUpgrade }
        status = code
        isHTTP10 = line[7] == UInt8(ascii: "0")
        framing = FramingFields()
    }

    /// field-line = field-name ":" OWS field-value OWS; returns the name and the trimmed value.
    private static func splitFieldLine(
        _ line: UnsafeBufferPointer<UInt8>
    ) throws(HTTPResponseDecodeError) -> (name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) {
        if HTTPSyntax.isWhitespace(line[0]) { throw .obsoleteLineFolding }
        var colon = 0
        while colon < line.count && HTTPSyntax.isTokenByte(line[colon]) { colon &+= 1 }
        guard colon < line.count, line[colon] == HTTPSyntax.colon, colon > 0 else {
            var afterName = colon
            while afterName < line.count && HTTPSyntax.isWhitespace(line[afterName]) { afterName &+= 1 }
            let isSpaceBeforeColon = colon > 0 && afterName > colon && afterName < line.count
                && line[afterName] == HTTPSyntax.colon
            throw isSpaceBeforeColon ? .whitespaceBeforeColon : .badHeader
        }
        var valueStart = colon &+ 1
        var valueEnd = line.count
        while valueStart < valueEnd && HTTPSyntax.isWhitespace(line[valueStart]) { valueStart &+= 1 }
        while valueEnd > valueStart && HTTPSyntax.isWhitespace(line[valueEnd &- 1]) { valueEnd &-= 1 }
        var index = valueStart
        while index < valueEnd {
            guard HTTPSyntax.isFieldValueByte(line[index]) else { throw .badHeader }
            index &+= 1
        }
        return (UnsafeBufferPointer(rebasing: line[0..<colon]), UnsafeBufferPointer(rebasing: line[valueStart..<valueEnd]))
    }

    /// The empty line: a 1xx head is dropped and the next head read; the final one decides the body.
    private mutating func endHead() throws(HTTPResponseDecodeError) -> Event? {
        if status < 200 {
            status = 0
            return nil
        }
        phase = try bodyPhase()
        chunkSizeLine = ChunkSizeLine()
        reusable = !isHTTP10 && !framing.hasCloseToken
        if case .untilClose = phase { reusable = false }
        let head = Event.head(status: status, headers: fields)
        fields = []
        return head
    }

    /// RFC 9112 §6.3, in its order. Anything two readers could frame differently is refused.
    private func bodyPhase() throws(HTTPResponseDecodeError) -> Phase {
        // Whatever Content-Length or Transfer-Encoding say: they describe the body a GET would have had.
        if requestWasHEAD || status == 204 || status == 304 { return .complete }
        if framing.hasTransferEncoding {
            if framing.hasContentLength { throw .contentLengthWithTransferEncoding }
            if isHTTP10 { throw .transferEncodingInHTTP10 }
            // Only chunked marks an end; applied twice, or followed by another coding, it does not.
            guard framing.lastCodingIsChunked && framing.chunkedCount == 1 else {
                throw .unsupportedTransferEncoding
            }
            return .chunkSizeLine
        }
        if framing.hasContentLength {
            guard let length = framing.contentLength else { throw .invalidContentLength }
            return length == 0 ? .complete : .fixedBody(remaining: length)
        }
        return .untilClose
    }

    // MARK: - Chunked body (RFC 9112 §7.1)

    /// Trailer fields are checked and dropped: the gateway forwards none, and merging them into the
    /// head is how trailer smuggling starts (RFC 9110 §6.5.1). Returns true after the empty line.
    private mutating func readTrailers(
        _ input: UnsafeBufferPointer<UInt8>, offset: inout Int
    ) throws(HTTPResponseDecodeError) -> Bool {
        while let isEnd = try withNextLine(input, offset: &offset, tooLarge: .trailersTooLarge, { _, line throws(HTTPResponseDecodeError) in
            if line.isEmpty { return true }
            _ = try Self.splitFieldLine(line)
            return false
        }) {
            if isEnd { return true }
        }
        return false
    }

    @inline(__always)
    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}

extension HTTPResponseDecoder {
    /// What the head's fields say about the body's end and the connection, gathered field by field
    /// as bytes, and judged only once the head is complete (the order of RFC 9112 §6.3 needs all of them).
    private struct FramingFields {
        var hasContentLength = false
        /// nil once a value is not a number, over 2^62, or differs from an earlier one.
        var contentLength: Int?
        var hasTransferEncoding = false
        var chunkedCount = 0
        var lastCodingIsChunked = false
        var hasCloseToken = false

        mutating func take(name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) {
            // By length first: most fields are none of the three, and this is run for every field.
            switch name.count {
            case 14 where HTTPSyntax.equalsIgnoringASCIICase(name, "content-length".utf8):
                takeContentLength(value)
            case 17 where HTTPSyntax.equalsIgnoringASCIICase(name, "transfer-encoding".utf8):
                hasTransferEncoding = true
                // Codings apply in order, split over fields as over commas (RFC 9110 §5.3).
                Self.forEachListElement(value) { coding in
                    let isChunked = HTTPSyntax.equalsIgnoringASCIICase(coding, "chunked".utf8)
                    if isChunked { chunkedCount &+= 1 }
                    lastCodingIsChunked = isChunked
                }
            case 10 where HTTPSyntax.equalsIgnoringASCIICase(name, "connection".utf8):
                Self.forEachListElement(value) { option in
                    if HTTPSyntax.equalsIgnoringASCIICase(option, "close".utf8) { hasCloseToken = true }
                }
            default:
                break
            }
        }

        /// "5, 5" and repeated fields of one value are one length (RFC 9110 §8.6); anything else is
        /// refused, not reconciled.
        private mutating func takeContentLength(_ value: UnsafeBufferPointer<UInt8>) {
            let isFirst = !hasContentLength
            hasContentLength = true
            if !isFirst && contentLength == nil { return }
            var previous = isFirst ? nil : contentLength
            var isValid = true
            var elementCount = 0
            Self.forEachListElement(value) { element in
                elementCount &+= 1
                guard isValid, let length = Self.decimal(element), previous == nil || previous == length else {
                    isValid = false
                    return
                }
                previous = length
            }
            contentLength = isValid && elementCount > 0 ? previous : nil
        }

        /// 1*DIGIT up to 2^62: a length no connection will carry, yet far from overflowing an Int.
        private static func decimal(_ digits: UnsafeBufferPointer<UInt8>) -> Int? {
            let limit = 1 << 62
            var value = 0
            for digit in digits {
                guard HTTPResponseDecoder.isDigit(digit), value <= limit / 10 else { return nil }
                value = value &* 10 &+ Int(digit &- UInt8(ascii: "0"))
                if value > limit { return nil }
            }
            return value
        }

        /// Calls `body` with each element of a comma-separated list, OWS trimmed, empty elements
        /// skipped (RFC 9110 §5.6.1).
        private static func forEachListElement(
            _ value: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Void
        ) {
            var start = 0
            while start < value.count {
                var end = start
                while end < value.count && value[end] != HTTPSyntax.comma { end &+= 1 }
                var elementStart = start
                var elementEnd = end
                while elementStart < elementEnd && HTTPSyntax.isWhitespace(value[elementStart]) { elementStart &+= 1 }
                while elementEnd > elementStart && HTTPSyntax.isWhitespace(value[elementEnd &- 1]) { elementEnd &-= 1 }
                if elementStart < elementEnd { body(UnsafeBufferPointer(rebasing: value[elementStart..<elementEnd])) }
                start = end &+ 1
            }
        }
    }

    /// chunk-size [ chunk-ext ] line-end, read a byte at a time so that a line split across reads
    /// needs no buffer. Extensions are skipped but must hold no control byte.
    private struct ChunkSizeLine {
        private enum Place {
            case size
            /// After the digits: BWS, ";" or the line end.
            case afterSize
            /// After whitespace that followed the digits: only more of it or ";" (RFC 9112 §7.1.1).
            case beforeExtension
            case `extension`
            case lineFeed
        }

        private var place = Place.size
        private var size = 0
        private var digits = 0
        private var length = 0

        /// The chunk size once the line end is taken; nil when `input` ran out first.
        mutating func scan(
            _ input: UnsafeBufferPointer<UInt8>, offset: inout Int
        ) throws(HTTPResponseDecodeError) -> Int? {
            var index = offset
            defer { offset = index }
            var place = self.place
            var size = self.size
            var digits = self.digits
            var length = self.length
            defer {
                self.place = place
                self.size = size
                self.digits = digits
                self.length = length
            }
            while index < input.count {
                let byte = input[index]
                index &+= 1
                length &+= 1
                if length > HTTPResponseDecoder.maxChunkSizeLineBytes { throw .badChunk }
                switch place {
                case .size:
                    if let value = Self.hexValue(byte) {
                        // 15 digits keep any size far from overflow; no body is larger.
                        digits &+= 1
                        if digits > 15 { throw .badChunk }
                        size = size &<< 4 | value
                        continue
                    }
                    if digits == 0 { throw .badChunk }
                    place = .afterSize
                    fallthrough
                case .afterSize:
                    if byte == HTTPSyntax.carriageReturn {
                        place = .lineFeed
                    } else if byte == HTTPSyntax.lineFeed {
                        return size
                    } else if byte == UInt8(ascii: ";") {
                        place = .extension
                    } else if HTTPSyntax.isWhitespace(byte) {
                        place = .beforeExtension
                    } else {
                        throw .badChunk
                    }
                case .beforeExtension:
                    if byte == UInt8(ascii: ";") {
                        place = .extension
                    } else if !HTTPSyntax.isWhitespace(byte) {
                        throw .badChunk
                    }
                case .extension:
                    if byte == HTTPSyntax.carriageReturn {
                        place = .lineFeed
                    } else if byte == HTTPSyntax.lineFeed {
                        return size
                    } else if !HTTPSyntax.isFieldValueByte(byte) {
                        throw .badChunk
                    }
                case .lineFeed:
                    guard byte == HTTPSyntax.lineFeed else { throw .badChunk }
                    return size
                }
            }
            return nil
        }

        @inline(__always)
        private static func hexValue(_ byte: UInt8) -> Int? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte &- UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte &- UInt8(ascii: "a") &+ 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte &- UInt8(ascii: "A") &+ 10)
            default: return nil
            }
        }
    }
}

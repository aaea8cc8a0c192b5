/// An incremental HTTP/1.1 response reader for the client side: the WebSocket handshake answer
/// and keep-alive responses of the `http` scenario. It keeps the response head (small) in a
/// buffer reused across responses, and skips bodies without storing them.
public struct HTTPResponseScanner {
    public struct Head: Equatable {
        public var status = 0
        public var contentLength: Int?
        public var chunked = false
        public var connectionClose = false
        /// `Sec-WebSocket-Accept` value, when present.
        public var websocketAccept: String?
        public var upgradeWebSocket = false
    }

    public enum Event: Equatable {
        case needMore
        /// The head is complete (offset is just past its blank line).
        case head(Head)
        /// The whole response (head and body) is complete.
        case complete
        case error(String)
    }

    private enum State { case head, body, chunkSize, chunkData, chunkDataEnd, trailers, untilClose, done }

    private var state = State.head
    private var headBytes: [UInt8] = []
    private var matched = 0  // progress through "\r\n\r\n"
    private var bodyRemaining = 0
    private var lineBytes = 0
    private var chunkSizeValue = 0
    private var sawDigit = false
    private var inExtension = false
    public var maxHeadBytes = 64 * 1024
    /// Set for a HEAD request: the next response has no body.
    public var expectNoBody = false

    public init() {}

    /// Forget the current response and get ready for the next (keeps buffer capacity).
    public mutating func reset() {
        state = .head
        headBytes.removeAll(keepingCapacity: true)
        matched = 0
    }

    public var isReadingUntilClose: Bool { state == .untilClose }

    public mutating func next(_ input: UnsafeRawBufferPointer, offset: inout Int) -> Event {
        switch state {
        case .head:
            let start = offset
            while offset < input.count {
                let b = input[offset]
                offset += 1
                if b == 13 {
                    matched = (matched == 0 || matched == 2) ? matched + 1 : 1
                } else if b == 10 {
                    if matched == 1 { matched = 2 } else if matched == 3 { matched = 4 } else { matched = 0 }
                } else {
                    matched = 0
                }
                if matched == 4 {
                    headBytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[start..<offset]))
                    return finishHead()
                }
            }
            headBytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[start..<offset]))
            if headBytes.count > maxHeadBytes { return .error("response_head_too_large") }
            return .needMore
        case .body:
            let take = min(bodyRemaining, input.count - offset)
            offset += take
            bodyRemaining -= take
            if bodyRemaining == 0 { state = .done; return .complete }
            return .needMore
        case .chunkSize:
            while offset < input.count {
                let b = input[offset]
                offset += 1
                if b == 10 {
                    guard sawDigit else { return .error("bad_chunk") }
                    if chunkSizeValue == 0 { state = .trailers; lineBytes = 0; return next(input, offset: &offset) }
                    bodyRemaining = chunkSizeValue
                    state = .chunkData
                    return next(input, offset: &offset)
                }
                if inExtension || b == 13 { continue }
                if b == 59 { inExtension = true; continue }  // ';'
                guard let d = hexValue(b), chunkSizeValue < (1 << 40) else { return .error("bad_chunk") }
                chunkSizeValue = chunkSizeValue * 16 + d
                sawDigit = true
            }
            return .needMore
        case .chunkData:
            let take = min(bodyRemaining, input.count - offset)
            offset += take
            bodyRemaining -= take
            if bodyRemaining == 0 { state = .chunkDataEnd; lineBytes = 0; return next(input, offset: &offset) }
            return .needMore
        case .chunkDataEnd:
            while offset < input.count {
                let b = input[offset]
                offset += 1
                if b == 10 { beginChunkSize(); return next(input, offset: &offset) }
            }
            return .needMore
        case .trailers:
            // Lines until an empty one; lineBytes counts non-CR bytes of the current line.
            while offset < input.count {
                let b = input[offset]
                offset += 1
                if b == 10 {
                    if lineBytes == 0 { state = .done; return .complete }
                    lineBytes = 0
                } else if b != 13 {
                    lineBytes += 1
                }
            }
            return .needMore
        case .untilClose:
            offset = input.count
            return .needMore
        case .done:
            return .complete
        }
    }

    private mutating func beginChunkSize() {
        state = .chunkSize
        chunkSizeValue = 0
        sawDigit = false
        inExtension = false
    }

    private func hexValue(_ b: UInt8) -> Int? {
        switch b {
        case 48...57: return Int(b - 48)
        case 65...70: return Int(b - 55)
        case 97...102: return Int(b - 87)
        default: return nil
        }
    }

    private mutating func finishHead() -> Event {
        guard let head = Self.parseHead(headBytes) else { return .error("bad_response") }
        headBytes.removeAll(keepingCapacity: true)
        matched = 0
        if expectNoBody || head.status == 101 || head.status == 204 || head.status == 304 || head.status < 200 {
            state = .done
        } else if head.chunked {
            beginChunkSize()
        } else if let n = head.contentLength {
            bodyRemaining = n
            state = n == 0 ? .done : .body
        } else {
            state = .untilClose
        }
        return .head(head)
    }

    /// Parses a complete head (status line and headers, ending with a blank line) in place:
    /// no allocation unless a `Sec-WebSocket-Accept` value is present (handshakes only).
    static func parseHead(_ bytes: [UInt8]) -> Head? {
        bytes.withUnsafeBufferPointer { b -> Head? in
            var head = Head()
            let n = b.count
            // Status line: "HTTP/1.x NNN ..."
            guard n >= 12, b[0] == 72, b[1] == 84, b[2] == 84, b[3] == 80, b[4] == 47, b[5] == 49, b[6] == 46, b[8] == 32,
                  let d0 = digit(b[9]), let d1 = digit(b[10]), let d2 = digit(b[11]) else { return nil }
            head.status = d0 * 100 + d1 * 10 + d2
            var i = 12
            while i < n, b[i] != 10 { i += 1 }
            i += 1
            while i < n {
                var end = i
                while end < n, b[end] != 10 { end += 1 }
                var lineEnd = end
                if lineEnd > i, b[lineEnd - 1] == 13 { lineEnd -= 1 }
                if lineEnd == i { break }  // blank line: end of head
                var colon = i
                while colon < lineEnd, b[colon] != 58 { colon += 1 }
                guard colon < lineEnd else { return nil }
                var v = colon + 1
                while v < lineEnd, b[v] == 32 || b[v] == 9 { v += 1 }
                var ve = lineEnd
                while ve > v, b[ve - 1] == 32 || b[ve - 1] == 9 { ve -= 1 }
                let name = UnsafeBufferPointer(rebasing: b[i..<colon])
                let value = UnsafeBufferPointer(rebasing: b[v..<ve])
                if equalsLower(name, "content-length") {
                    var length = 0
                    guard !value.isEmpty, value.count < 16 else { return nil }
                    for c in value {
                        guard let d = digit(c) else { return nil }
                        length = length * 10 + d
                    }
                    head.contentLength = length
                } else if equalsLower(name, "transfer-encoding") {
                    if containsLower(value, "chunked") { head.chunked = true }
                } else if equalsLower(name, "connection") {
                    if containsLower(value, "close") { head.connectionClose = true }
                } else if equalsLower(name, "sec-websocket-accept") {
                    head.websocketAccept = String(decoding: value, as: UTF8.self)
                } else if equalsLower(name, "upgrade") {
                    if equalsLower(value, "websocket") { head.upgradeWebSocket = true }
                }
                i = end + 1
            }
            return head
        }
    }

    @inline(__always)
    private static func digit(_ c: UInt8) -> Int? { c >= 48 && c <= 57 ? Int(c - 48) : nil }

    private static func equalsLower(_ bytes: UnsafeBufferPointer<UInt8>, _ lower: StaticString) -> Bool {
        guard bytes.count == lower.utf8CodeUnitCount else { return false }
        let l = lower.utf8Start
        for k in 0..<bytes.count where bytes[k] | 0x20 != l[k] | 0x20 { return false }
        return true
    }

    private static func containsLower(_ bytes: UnsafeBufferPointer<UInt8>, _ lower: StaticString) -> Bool {
        let m = lower.utf8CodeUnitCount
        guard bytes.count >= m else { return false }
        let l = lower.utf8Start
        outer: for s in 0...(bytes.count - m) {
            for k in 0..<m where bytes[s + k] | 0x20 != l[k] | 0x20 { continue outer }
            return true
        }
        return false
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}

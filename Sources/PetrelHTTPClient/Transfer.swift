import CCurl

/// A curl easy handle plus the error buffer curl writes into; recycled through the client's
/// free list so a steady request rate does not create and destroy handles (and their buffers).
struct EasyHandle {
    let raw: UnsafeMutableRawPointer  // CURL*
    let errorBuffer: UnsafeMutablePointer<CChar>

    init?() {
        guard let raw = curl_easy_init() else { return nil }
        self.raw = raw
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer[0] = 0
    }

    /// Forgets every option so the handle can serve another request; live connections stay in the
    /// multi handle's pool.
    func reset() {
        curl_easy_reset(raw)
        errorBuffer[0] = 0
    }

    func destroy() {
        curl_easy_cleanup(raw)
        errorBuffer.deallocate()
    }

    var errorMessage: String? {
        errorBuffer[0] == 0 ? nil : String(cString: errorBuffer)
    }
}

/// The state of one request between `send` and its completion. Owned by the client's
/// `transfers` table; curl reaches it (unretained) through CURLOPT_PRIVATE, WRITEDATA, HEADERDATA and READDATA,
/// which is safe because the entry leaves the table only after the easy handle left the multi.
final class Transfer {
    let id: HTTPRequestID
    let easy: EasyHandle
    let completion: (Result<HTTPClientResponse, HTTPClientError>) -> Void
    let maxResponseBytes: Int
    var headerList: UnsafeMutablePointer<curl_slist>?
    var responseHeaders: [(String, String)] = []
    var body: [UInt8] = []
    var exceededLimit = false
    /// Set for `HTTPClient.stream`: the response goes here instead of `body`.
    var delegate: HTTPResponseStreamDelegate?
    /// The client, told when a stream's head went out (`headsDelivered`); it outlives its transfers.
    unowned(unsafe) var client: HTTPClient?
    var headDelivered = false
    var headDeadlineMs: Int64 = 0
    /// The delegate refused a piece; curl holds it until `HTTPClient.resume`.
    var paused = false
    /// A streamed request body (`HTTPClient.stream(_:body:to:)`), and whether its source had
    /// nothing to give (curl's upload paused until `HTTPClient.resumeUpload`).
    var bodySource: HTTPRequestBodySource?
    var uploadPaused = false
    /// While a body streams up, the head deadline moves with each piece: the integration timeout
    /// counts from the last byte sent, not from the start of a long upload.
    var timeoutMs: Int64 = 0
    /// Cancelled from inside a curl callback; the removal waits until curl returns.
    var cancelRequested = false
    /// Status of the header block being read (an interim 1xx, then the final one).
    private var blockStatus = 0

    init(id: HTTPRequestID, easy: EasyHandle, maxResponseBytes: Int,
         completion: @escaping (Result<HTTPClientResponse, HTTPClientError>) -> Void) {
        self.id = id
        self.easy = easy
        self.maxResponseBytes = maxResponseBytes
        self.completion = completion
    }

    func freeHeaderList() {
        if let headerList { curl_slist_free_all(headerList) }
        headerList = nil
    }

    /// One header line as curl hands it over: a status line, `Name: value`, a folded continuation
    /// or the blank line that ends a header block.
    func receiveHeaderLine(_ line: UnsafeRawBufferPointer) {
        var end = line.count
        while end > 0, line[end - 1] == 0x0A || line[end - 1] == 0x0D { end -= 1 }
        guard end > 0 else {
            // The blank line ending a block: a final block is the head a stream waits for.
            if blockStatus >= 200, let delegate, !headDelivered, !cancelRequested {
                headDelivered = true
                client?.headsDelivered.append(self)
                delegate.responseHead(status: blockStatus, headers: responseHeaders)
            }
            return
        }
        let bytes = UnsafeRawBufferPointer(rebasing: line[0..<end])
        if bytes.starts(with: "HTTP/".utf8) {
            // A new status line: any earlier block was an interim (1xx) response, whose headers
            // are not the final response's.
            responseHeaders.removeAll(keepingCapacity: true)
            blockStatus = Self.statusCode(bytes)
            return
        }
        if bytes[0] == 0x20 || bytes[0] == 0x09 {
            // obs-fold (RFC 9112 §5.2): continuation of the previous value.
            guard let last = responseHeaders.popLast() else { return }
            let more = Self.trimmed(bytes[...])
            responseHeaders.append((last.0, last.1 + " " + String(decoding: more, as: UTF8.self)))
            return
        }
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return }
        let name = String(decoding: bytes[..<colon], as: UTF8.self)
        let value = String(decoding: Self.trimmed(bytes[(colon + 1)...]), as: UTF8.self)
        responseHeaders.append((name, value))
    }

    /// The three digits after the first space of a status line; 0 when absent.
    private static func statusCode(_ line: UnsafeRawBufferPointer) -> Int {
        guard let space = line.firstIndex(of: 0x20), space + 3 < line.count + 1 else { return 0 }
        var code = 0
        for i in (space + 1)..<(space + 4) {
            let digit = Int(line[i]) - 0x30
            guard (0...9).contains(digit) else { return 0 }
            code = code * 10 + digit
        }
        return code
    }

    private static func trimmed(_ s: Slice<UnsafeRawBufferPointer>) -> Slice<UnsafeRawBufferPointer> {
        var lo = s.startIndex, hi = s.endIndex
        while lo < hi, s[lo] == 0x20 || s[lo] == 0x09 { lo += 1 }
        while hi > lo, s[hi - 1] == 0x20 || s[hi - 1] == 0x09 { hi -= 1 }
        return s[lo..<hi]
    }
}

func curlWriteCallback(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ user: UnsafeMutableRawPointer?) -> Int {
    let transfer = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
    let length = size * count
    guard length > 0, let data else { return 0 }
    if let delegate = transfer.delegate {
        // Zero aborts the transfer (CURLE_WRITE_ERROR): nobody wants the bytes any more.
        guard !transfer.cancelRequested else { return 0 }
        guard transfer.headDelivered else { return length }
        if delegate.responseBody(UnsafeRawBufferPointer(start: data, count: length)) { return length }
        transfer.paused = true
        return petrel_curl_writefunc_pause
    }
    if transfer.body.count + length > transfer.maxResponseBytes {
        // Returning less than `length` aborts the transfer with CURLE_WRITE_ERROR.
        transfer.exceededLimit = true
        return 0
    }
    transfer.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length))
    return length
}

func curlReadCallback(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ user: UnsafeMutableRawPointer?) -> Int {
    let transfer = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
    guard let source = transfer.bodySource, !transfer.cancelRequested, let data else { return petrel_curl_readfunc_abort }
    switch source.requestBodyRead(into: UnsafeMutableRawBufferPointer(start: data, count: size * count)) {
    case .bytes(let length):
        if let client = transfer.client { transfer.headDeadlineMs = client.loop.nowMs + max(1, transfer.timeoutMs) }
        return length
    case .end:
        return 0
    case .wait:
        transfer.uploadPaused = true
        return petrel_curl_readfunc_pause
    case .abort:
        return petrel_curl_readfunc_abort
    }
}

func curlHeaderCallback(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ user: UnsafeMutableRawPointer?) -> Int {
    let transfer = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
    let length = size * count
    if let data, length > 0 {
        transfer.receiveHeaderLine(UnsafeRawBufferPointer(start: data, count: length))
    }
    return length
}

import CLibUV
import PetrelCodecs
import PetrelHTTPClient

/// One `http_proxy` response on its way from the backend to the client (DESIGN §8: "streams the
/// response"). The head goes out as soon as the HTTP client has it, then each body piece as it
/// arrives: with the backend's `content-length`, else chunked. The gateway holds at most about
/// `pauseBytes` of it: past that in the client's write queue the transfer pauses (the backend is
/// no longer read, TCP pushes back on it) until the client's writes drain.
///
/// Before the head, failures answer as API Gateway's HTTP APIs do (503 after the integration
/// timeout, 502 otherwise); after it, the status is out, so a broken body closes the connection.
/// The connection is parked (`awaitingResponse`) for the whole stream: pipelined requests wait.
///
/// The request body streams the other way when the route allows it (`APIRequest.streamedBody`):
/// the HTTP client takes the parser's body bytes as they arrive (`HTTPRequestBodySource`);
/// with none buffered the upload pauses until the client sends more (`clientBodyArrived`). The
/// client's socket is read only while at most `uploadBufferBytes` wait for the backend, so a
/// slow backend pushes back on the client through TCP. A client that leaves mid-body cancels the
/// call; a body over the limit or badly framed aborts it (413/400 unless the backend answered
/// first). A backend that answers before the body was read completely gets its answer through,
/// with `Connection: close`: the rest of the body is never parsed as a request.
final class ProxyStream: HTTPResponseStreamDelegate, HTTPRequestBodySource {
    /// Client write queue bound before the backend is paused.
    static let pauseBytes = 256 * 1024
    /// Request body bytes buffered for the backend before the client is no longer read.
    static let uploadBufferBytes = 256 * 1024

    private enum Framing {
        case none
        case length
        case chunked
        /// An HTTP/1.0 client and no length: the end of the body is the end of the connection.
        case untilClose
    }

    private let connection: Connection
    private let state: APIRequest
    private let timeoutMs: Int64
    private let startNs = uv_hrtime()
    var id: HTTPRequestID?
    private var framing = Framing.none
    private var keepAlive = true
    /// The backend's head arrived: the status is decided (and sent, or held in `heldHead`).
    private var hasHead = false
    /// The serialized head, held until the first body bytes (one write for both) or the end of
    /// the read that delivered it (`responseFlush`).
    private var heldHead: [UInt8]?
    private var chunksSent = false
    private var paused = false
    private var finished = false
    /// The upload is paused for lack of client bytes.
    private var uploadWaiting = false
    /// Why the request body broke off (413 over the limit, 400 bad chunk framing).
    private var uploadFailure: HTTPParseError?

    init(connection: Connection, state: APIRequest, timeoutMs: Int64) {
        self.connection = connection
        self.state = state
        self.timeoutMs = timeoutMs
    }

    // MARK: HTTPResponseStreamDelegate

    func responseHead(status: Int, headers: [(String, String)]) {
        guard !finished, connection.phase == .http else { return }
        hasHead = true
        connection.http?.observation.integrationUs = Int32(clamping: (uv_hrtime() &- startNs) / 1000)
        var response = HTTPResponse(status: status, headers: ProxyHeaders.response(headers))
        connection.decorateAPIResponse(&response, state)
        let length = headers.first { HeaderName.is($0.0, "content-length") }?.1
        let chunkedByBackend = headers.contains { HeaderName.is($0.0, "transfer-encoding") }
        var framingLine: String?
        if status < 200 || status == 204 || status == 304 {
            framing = .none
        } else if state.isHead {
            framing = .none
            if let length, !chunkedByBackend { framingLine = "Content-Length: \(length)" }
        } else if let length, !chunkedByBackend {
            framing = .length
            framingLine = "Content-Length: \(length)"
        } else if state.request.head.versionMinor == 0 {
            framing = .untilClose
        } else {
            framing = .chunked
            framingLine = "Transfer-Encoding: chunked"
        }
        keepAlive = state.keepAlive && !connection.worker.draining && framing != .untilClose
            && (connection.http?.parser.isBetweenRequests ?? false)
        connection.worker.observeResponse(connection, response)
        connection.servedRequest = true
        heldHead = response.headBytes(keepAlive: keepAlive, framing: framingLine, reserving: 64)
    }

    func responseBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let stream = connection.stream
        guard !finished, hasHead, !stream.isClosing else { return true }
        if stream.pendingWriteBytes > Self.pauseBytes {
            paused = true
            return false
        }
        // A client still taking bytes is not idle; one that stops for the timeout is dropped by
        // the sweep.
        connection.phaseDeadlineMs = connection.worker.loop.nowMs + timeoutMs + 5_000
        var prefix = heldHead ?? []
        heldHead = nil
        if framing == .chunked {
            // The previous chunk's CRLF rides with this chunk's size line: one write per piece.
            prefix += ((chunksSent ? "\r\n" : "") + String(bytes.count, radix: 16) + "\r\n").utf8
            chunksSent = true
        }
        if framing == .none {
            prefix.withUnsafeBytes { stream.write($0) }
        } else if prefix.isEmpty {
            stream.write(bytes)
        } else if bytes.count <= 16 * 1024 {
            // Small: one buffer, so one send (a write of two buffers is two).
            prefix.append(contentsOf: bytes)
            prefix.withUnsafeBytes { stream.write($0) }
        } else {
            prefix.withUnsafeBytes { stream.write($0, bytes) }
        }
        return true
    }

    func responseFlush() {
        writeHeldHead()
    }

    private func writeHeldHead() {
        guard let head = heldHead else { return }
        heldHead = nil
        head.withUnsafeBytes { connection.stream.write($0) }
    }

    func responseEnd(_ error: HTTPClientError?) {
        guard !finished else { return }
        finished = true
        connection.proxyStream = nil
        guard connection.phase == .http else { return }
        if !hasHead, let uploadFailure {
            // The client's body broke off (`respond` closes: the parser is dead).
            if uploadFailure.status == 413 { connection.worker.metrics.limitHit(.maxBodyBytes) }
            Log.info("bad request", ["status": .int(uploadFailure.status), "reason": .string(uploadFailure.reason),
                                     "sourceIp": .string(connection.sourceIp)])
            connection.deliver(.message(uploadFailure.status, HTTPResponse.reasonPhrase(uploadFailure.status)), state)
            return
        }
        if !hasHead {
            let failure = error ?? .other("no response head")
            Log.warn("http route integration failed", ["error": .string("\(failure)"), "route": .string(state.route.key.text)])
            connection.http?.observation.integrationUs = Int32(clamping: (uv_hrtime() &- startNs) / 1000)
            connection.deliver(failure == .timeout ? .message(503, "Service Unavailable") : .message(502, "Internal Server Error"),
                                          state)
            return
        }
        writeHeldHead()
        if let error {
            Log.warn("http_proxy response broken off", ["error": .string("\(error)"), "route": .string(state.route.key.text)])
            connection.http = nil
            if framing == .untilClose {
                // A clean FIN would read as a complete body: reset instead.
                connection.stream.abort()
            } else {
                connection.finishAfterFlush()
            }
            return
        }
        if framing == .chunked {
            let end = Array<UInt8>((chunksSent ? "\r\n0\r\n\r\n" : "0\r\n\r\n").utf8)
            end.withUnsafeBytes { connection.stream.write($0) }
        }
        connection.finishStreamedResponse(keepAlive: keepAlive)
    }

    // MARK: From the connection

    /// The client's writes drained: let the backend's bytes flow again.
    func clientDrained() {
        connection.phaseDeadlineMs = connection.worker.loop.nowMs + timeoutMs + 5_000
        guard paused, !finished, let id else { return }
        paused = false
        connection.worker.httpClient.resume(id)
    }

    // MARK: HTTPRequestBodySource (asked by the HTTP client as the backend takes bytes)

    func requestBodyRead(into buffer: UnsafeMutableRawBufferPointer) -> HTTPRequestBodyRead {
        guard !finished, connection.phase == .http, let session = connection.http else { return .abort }
        switch session.parser.readBody(into: buffer) {
        case .bytes(let count):
            connection.phaseDeadlineMs = connection.worker.loop.nowMs + timeoutMs + 5_000
            readClientAgainIfRoom(session)
            return .bytes(count)
        case .end:
            return .end
        case .needMore:
            uploadWaiting = true
            readClientAgainIfRoom(session)
            return .wait
        case .failure(let error):
            uploadFailure = error
            return .abort
        }
    }

    /// The backend took bytes: read the client again if reading stopped for the bound.
    private func readClientAgainIfRoom(_ session: HTTPSession) {
        let stream = connection.stream
        guard !stream.isReading, !connection.pausedForBackpressure, session.parser.isReadingBody,
              session.parser.bufferedByteCount <= Self.uploadBufferBytes else { return }
        stream.startReading()
    }

    /// Body bytes arrived from the client (Connection+HTTP.swift): a waiting upload goes on.
    func clientBodyArrived() {
        guard uploadWaiting, !finished, let id else { return }
        uploadWaiting = false
        connection.worker.httpClient.resumeUpload(id)
    }

    /// The client is gone: stop the backend transfer.
    func clientGone() {
        guard !finished else { return }
        finished = true
        connection.proxyStream = nil
        if let id { connection.worker.httpClient.cancel(id) }
    }
}

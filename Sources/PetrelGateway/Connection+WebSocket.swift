import PetrelCodecs
import PetrelCore
import PetrelLoop

/// The WebSocket half of a connection: frames in, routes, integration replies and frames out.
extension Connection {
    func handleFrames(_ input: UnsafeMutableRawBufferPointer) {
        var offset = 0
        while phase == .open || phase == .closeSent {
            switch decoder.next(input, offset: &offset) {
            case .needMore:
                return
            case .message(let opcode, let payload):
                // After our close frame, data frames are ignored (RFC 6455 §5.5.1).
                if phase == .open { handleMessage(opcode: opcode, payload: payload) }
            case .ping(let payload):
                if phase == .open { sendFrame(.pong, payload) }
            case .pong:
                break
            case .close(let code, let reason):
                handlePeerClose(code: code, reason: reason)
            case .failure(let code, let reason):
                fail(code: code, reason: String(describing: reason))
            }
        }
    }

    private func handleMessage(opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer) {
        let settings = worker.settings
        let route = settings.selectRoute(payload)
        worker.metrics.counters.received(route?.metricIndex ?? 0, payload.count)
        let requestId = worker.nextRequestID()
        let messageId = worker.nextRequestID()
        let receivedAtMs = WallClock.nowMs()
        if callInFlight || !pendingWork.isEmpty {
            // Keep arrival order behind the call in flight; the copy is the price of waiting.
            guard pendingMessageCount < settings.limits.maxPendingMessages else {
                worker.metrics.limitHit(.maxPendingMessages)
                Log.info("limit reached", ["limit": "max_pending_messages", "connectionId": .string(connectionId.description)])
                sendErrorFrame("Too Many Requests")
                return
            }
            pendingMessageCount += 1
            pendingWork.append(.message(route: route, body: Array(payload), isBinary: opcode == .binary,
                                        requestId: requestId, messageId: messageId, requestTimeMs: receivedAtMs))
            return
        }
        invokeMessage(route: route, payload: payload, isBinary: opcode == .binary,
                      requestId: requestId, messageId: messageId, requestTimeMs: receivedAtMs)
    }

    /// API Gateway's own error frames: `{"message":..., "connectionId":..., "requestId":...}`.
    func sendErrorFrame(_ message: String) {
        let text = "{\"message\":\(JSONText.quoted(message)),\"connectionId\":\"\(connectionId)\",\"requestId\":\"\(worker.nextRequestID())\"}"
        sendMessage(Array(text.utf8))
    }

    /// Sends bytes as one message: text when they are valid UTF-8, else binary (DESIGN §6).
    func sendMessage(_ bytes: [UInt8]) {
        worker.metrics.counters.sent(bytes.count)
        bytes.withUnsafeBytes { buf in
            sendFrame(UTF8Validator.isValid(buf) ? .text : .binary, buf)
        }
    }

    func sendFrame(_ opcode: WebSocketOpcode, _ payload: UnsafeRawBufferPointer) {
        var header: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &header) { h in
            let n = WebSocketFrameEncoder.writeHeader(into: h.baseAddress!, opcode: opcode, fin: true, payloadLength: payload.count)
            stream.write(UnsafeRawBufferPointer(rebasing: h[0..<n]), payload)
        }
    }

    private func sendClose(code: UInt16?, reason: String) {
        if let code {
            let payload = WebSocketFrameEncoder.closePayload(code: code, reason: reason)
            payload.withUnsafeBytes { sendFrame(.close, $0) }
        } else {
            sendFrame(.close, UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }

    /// Starts the closing handshake from our side (limits, drain, DELETE): close frame, then wait
    /// for the client's close frame up to the close timeout.
    func close(code: WebSocketCloseCode, reason: String) {
        guard phase == .open else { return }
        disconnectCode = Int(code.rawValue)
        disconnectReason = reason
        sendClose(code: code.rawValue, reason: reason)
        phase = .closeSent
        phaseDeadlineMs = worker.loop.nowMs + worker.settings.limits.closeTimeoutMs
        stream.flush()
    }

    /// Fails the connection (RFC 6455 §7.1.7): close frame with the code, then close TCP.
    private func fail(code: WebSocketCloseCode, reason: String) {
        if code == .messageTooBig { worker.metrics.limitHit(.maxMessageBytes) }
        Log.info(code == .messageTooBig ? "limit reached" : "protocol error",
                 ["code": .int(Int(code.rawValue)), "reason": .string(reason), "connectionId": .string(connectionId.description)])
        if phase == .open {
            disconnectCode = Int(code.rawValue)
            disconnectReason = reason
            sendClose(code: code.rawValue, reason: reason)
        }
        decoder.releaseMemory()
        finishAfterFlush()
    }

    /// RFC 6455 §5.5.1: answer a close with a close (echoing the code), then the server closes TCP.
    private func handlePeerClose(code: UInt16?, reason: UnsafeRawBufferPointer) {
        if phase == .open {
            disconnectCode = Int(code ?? 1005)
            disconnectReason = String(decoding: reason, as: UTF8.self)
            sendClose(code: code, reason: "")
        }
        decoder.releaseMemory()
        finishAfterFlush()
    }

}

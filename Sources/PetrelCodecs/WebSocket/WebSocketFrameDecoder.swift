/// Server-side RFC 6455 frame decoder and message assembler: a state machine fed the event loop's
/// read buffers, returning one `WebSocketEvent` per call.
///
/// Memory: a message whose single FIN frame lies entirely in one read is unmasked in place and
/// returned pointing into that read buffer: no copy, no allocation. Only payloads that span reads or
/// fragments are copied into a heap buffer, which is dropped again on the call after the message is
/// delivered, so an idle connection holds just this struct (about 100 bytes).
///
/// Not `Sendable` and not meant to be copied: it belongs to one connection on one loop, and its
/// accumulation buffers are references.
public struct WebSocketFrameDecoder {
    /// `max_frame_bytes`: a frame announcing more fails with 1009 before its payload is read.
    public let maxFrameBytes: Int
    /// `max_message_bytes`: a message whose fragments add up to more fails with 1009 as soon as a
    /// frame header makes that certain.
    public let maxMessageBytes: Int

    /// Header bytes that arrived without the rest of their header (a header is at most 14 bytes).
    private var headerStash: (UInt64, UInt64) = (0, 0)
    private var headerStashCount = 0

    /// The frame whose payload is being read.
    private var isReadingPayload = false
    private var frameOpcode = WebSocketOpcode.continuation
    private var frameIsFinal = false
    private var frameMaskingKey: UInt32 = 0
    private var framePayloadRead = 0
    private var framePayloadRemaining = 0

    /// The data message being assembled; non-nil from its first frame's header to its delivery.
    private var messageOpcode: WebSocketOpcode?
    private var messageByteCount = 0
    private var textValidator = UTF8Validator()
    private var messageBuffer: ByteAccumulator?
    /// Control frames may interleave with a fragmented message (§5.4), so they get their own buffer.
    private var controlBuffer: ByteAccumulator?
    /// A delivered payload must outlive the call that returned it; its buffer goes on the next call.
    private var releaseMessageBufferOnNextCall = false
    private var releaseControlBufferOnNextCall = false

    private var violation: WebSocketProtocolViolation?

    public init(maxFrameBytes: Int, maxMessageBytes: Int) {
        self.maxFrameBytes = maxFrameBytes
        self.maxMessageBytes = maxMessageBytes
    }

    /// True while a heap buffer is held (a partial payload or a just-delivered assembled one).
    var holdsAccumulationBuffer: Bool { messageBuffer != nil || controlBuffer != nil }

    /// Decodes the next event from input[offset...], advancing offset. Unmasks payload IN PLACE in
    /// `input` (it is the event loop's read buffer). Call again until `.needMore`, then feed the next read.
    public mutating func next(_ input: UnsafeMutableRawBufferPointer, offset: inout Int) -> WebSocketEvent {
        precondition(offset >= 0 && offset <= input.count, "offset outside the input buffer")
        if let violation { return violation.event }
        if releaseMessageBufferOnNextCall {
            messageBuffer = nil
            releaseMessageBufferOnNextCall = false
        }
        if releaseControlBufferOnNextCall {
            controlBuffer = nil
            releaseControlBufferOnNextCall = false
        }
        while true {
            if !isReadingPayload {
                switch readHeader(input, offset: &offset) {
                case .none:
                    return .needMore
                case .some(.failure(let violation)):
                    return fail(violation)
                case .some(.success(let header)):
                    if let violation = startFrame(header) { return fail(violation) }
                }
            }
            let event = frameOpcode.isControl
                ? readControlPayload(input, offset: &offset)
                : readDataPayload(input, offset: &offset)
            if let event { return event }
        }
    }

    /// Frees any accumulation buffer (called at close). The decoder starts over from a clean state.
    public mutating func releaseMemory() {
        self = WebSocketFrameDecoder(maxFrameBytes: maxFrameBytes, maxMessageBytes: maxMessageBytes)
    }

    // MARK: - Header

    /// Returns nil when the header is not complete yet (its bytes so far are stashed inline).
    private mutating func readHeader(
        _ input: UnsafeMutableRawBufferPointer, offset: inout Int
    ) -> Result<WebSocketFrameHeader, WebSocketProtocolViolation>? {
        let available = input.count &- offset
        if headerStashCount == 0 && available >= 2 {
            let start = UnsafeRawPointer(input.baseAddress! + offset)
            let firstByte = start.load(as: UInt8.self)
            let secondByte = start.load(fromByteOffset: 1, as: UInt8.self)
            if let violation = WebSocketFrameHeader.violation(firstByte: firstByte, secondByte: secondByte) {
                return .failure(violation)
            }
            let headerLength = WebSocketFrameHeader.headerLength(secondByte: secondByte)
            if available >= headerLength {
                offset &+= headerLength
                return WebSocketFrameHeader.decode(start)
            }
        }
        return readStashedHeader(input, offset: &offset)
    }

    /// The slow path for a header split across reads: gather it in fixed inline storage.
    private mutating func readStashedHeader(
        _ input: UnsafeMutableRawBufferPointer, offset: inout Int
    ) -> Result<WebSocketFrameHeader, WebSocketProtocolViolation>? {
        var stash = headerStash
        var stashCount = headerStashCount
        defer {
            headerStash = stash
            headerStashCount = stashCount
        }
        return withUnsafeMutableBytes(of: &stash) { stashBytes -> Result<WebSocketFrameHeader, WebSocketProtocolViolation>? in
            func take(upTo wanted: Int) {
                let count = Swift.min(wanted &- stashCount, input.count &- offset)
                guard count > 0 else { return }
                (stashBytes.baseAddress! + stashCount).copyMemory(from: input.baseAddress! + offset, byteCount: count)
                stashCount &+= count
                offset &+= count
            }
            take(upTo: 2)
            if stashCount < 2 { return nil }
            if let violation = WebSocketFrameHeader.violation(firstByte: stashBytes[0], secondByte: stashBytes[1]) {
                return .failure(violation)
            }
            let headerLength = WebSocketFrameHeader.headerLength(secondByte: stashBytes[1])
            take(upTo: headerLength)
            if stashCount < headerLength { return nil }
            stashCount = 0
            return WebSocketFrameHeader.decode(UnsafeRawPointer(stashBytes.baseAddress!))
        }
    }

    /// Applies the sequencing and size rules that need the whole header (§5.4, limits).
    private mutating func startFrame(_ header: WebSocketFrameHeader) -> WebSocketProtocolViolation? {
        if header.payloadLength > UInt64(maxFrameBytes) { return .frameTooBig }
        let length = Int(header.payloadLength)
        switch header.opcode {
        case .continuation:
            if messageOpcode == nil { return .continuationWithoutMessage }
        case .text, .binary:
            if messageOpcode != nil { return .dataFrameInsideFragmentedMessage }
            messageOpcode = header.opcode
            messageByteCount = 0
            textValidator.reset()
        case .close, .ping, .pong:
            break
        }
        if !header.opcode.isControl && length > maxMessageBytes &- messageByteCount {
            return .messageTooBig
        }
        isReadingPayload = true
        frameOpcode = header.opcode
        frameIsFinal = header.fin
        frameMaskingKey = header.maskingKey
        framePayloadRead = 0
        framePayloadRemaining = length
        return nil
    }

    // MARK: - Data payload

    /// Returns nil when a non-final fragment is complete and decoding should go on with the next frame.
    private mutating func readDataPayload(_ input: UnsafeMutableRawBufferPointer, offset: inout Int) -> WebSocketEvent? {
        let available = input.count &- offset
        let isWholeMessageInInput = frameIsFinal && messageByteCount == 0 && framePayloadRead == 0
            && available >= framePayloadRemaining
        if isWholeMessageInInput {
            return deliverMessageInPlace(input, offset: &offset)
        }

        let count = Swift.min(available, framePayloadRemaining)
        if count > 0 {
            let chunk = UnsafeMutableRawBufferPointer(rebasing: input[offset..<(offset &+ count)])
            WebSocketMasking.unmask(chunk.baseAddress!, count: count, key: frameMaskingKey, payloadIndex: framePayloadRead)
            // Fail fast: an invalid byte closes the connection now, not at the end of the message (§8.1).
            if messageOpcode == .text && !textValidator.feed(UnsafeRawBufferPointer(chunk)) {
                return fail(.invalidTextPayload)
            }
            if messageBuffer == nil {
                // A final frame's size is the message's; otherwise leave room for one more fragment like it.
                let expected = messageByteCount &+ framePayloadRemaining &* (frameIsFinal ? 1 : 2)
                messageBuffer = ByteAccumulator(capacity: Swift.min(expected, maxMessageBytes))
            }
            messageBuffer!.append(UnsafeRawBufferPointer(chunk), limit: maxMessageBytes)
            offset &+= count
            framePayloadRead &+= count
            framePayloadRemaining &-= count
            messageByteCount &+= count
        }
        if framePayloadRemaining > 0 { return .needMore }
        isReadingPayload = false
        if !frameIsFinal { return nil }

        let opcode = messageOpcode!
        messageOpcode = nil
        messageByteCount = 0
        // §8.1: a message that ends inside a multi-byte sequence is not valid UTF-8.
        if opcode == .text && !textValidator.isAtBoundary { return fail(.invalidTextPayload) }
        releaseMessageBufferOnNextCall = true
        let payload = messageBuffer?.bytes ?? UnsafeRawBufferPointer(start: nil, count: 0)
        return .message(opcode: opcode, payload: payload)
    }

    /// The hot path: the whole message is this one frame and it is all in `input`.
    private mutating func deliverMessageInPlace(_ input: UnsafeMutableRawBufferPointer, offset: inout Int) -> WebSocketEvent {
        let payload = UnsafeMutableRawBufferPointer(rebasing: input[offset..<(offset &+ framePayloadRemaining)])
        if let base = payload.baseAddress {
            WebSocketMasking.unmask(base, count: payload.count, key: frameMaskingKey, payloadIndex: 0)
        }
        offset &+= payload.count
        isReadingPayload = false
        let opcode = messageOpcode!
        messageOpcode = nil
        if opcode == .text && !UTF8Validator.isValid(UnsafeRawBufferPointer(payload)) {
            return fail(.invalidTextPayload)
        }
        return .message(opcode: opcode, payload: UnsafeRawBufferPointer(payload))
    }

    // MARK: - Control payload

    private mutating func readControlPayload(_ input: UnsafeMutableRawBufferPointer, offset: inout Int) -> WebSocketEvent {
        let available = input.count &- offset
        if controlBuffer == nil && available >= framePayloadRemaining {
            let payload = UnsafeMutableRawBufferPointer(rebasing: input[offset..<(offset &+ framePayloadRemaining)])
            if let base = payload.baseAddress {
                WebSocketMasking.unmask(base, count: payload.count, key: frameMaskingKey, payloadIndex: 0)
            }
            offset &+= payload.count
            isReadingPayload = false
            return controlEvent(UnsafeRawBufferPointer(payload))
        }
        let count = Swift.min(available, framePayloadRemaining)
        if count > 0 {
            let chunk = UnsafeMutableRawBufferPointer(rebasing: input[offset..<(offset &+ count)])
            WebSocketMasking.unmask(chunk.baseAddress!, count: count, key: frameMaskingKey, payloadIndex: framePayloadRead)
            if controlBuffer == nil { controlBuffer = ByteAccumulator(capacity: 125) }
            controlBuffer!.append(UnsafeRawBufferPointer(chunk), limit: 125)
            offset &+= count
            framePayloadRead &+= count
            framePayloadRemaining &-= count
        }
        if framePayloadRemaining > 0 { return .needMore }
        isReadingPayload = false
        releaseControlBufferOnNextCall = true
        return controlEvent(controlBuffer!.bytes)
    }

    private mutating func controlEvent(_ payload: UnsafeRawBufferPointer) -> WebSocketEvent {
        switch frameOpcode {
        case .ping:
            return .ping(payload)
        case .pong:
            return .pong(payload)
        default:
            // §5.5.1: empty, or a 2-byte big-endian code followed by a UTF-8 reason.
            if payload.isEmpty { return .close(code: nil, reason: payload) }
            let code = UInt16(payload[0]) << 8 | UInt16(payload[1])
            if !WebSocketCloseCode.isValidOnWire(code) { return fail(.invalidCloseCode) }
            let reason = UnsafeRawBufferPointer(rebasing: payload[2...])
            if !UTF8Validator.isValid(reason) { return fail(.invalidCloseReason) }
            return .close(code: code, reason: reason)
        }
    }

    private mutating func fail(_ violation: WebSocketProtocolViolation) -> WebSocketEvent {
        self.violation = violation
        messageBuffer = nil
        controlBuffer = nil
        return violation.event
    }
}

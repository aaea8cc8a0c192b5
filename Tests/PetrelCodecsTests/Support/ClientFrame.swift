import PetrelCodecs

/// Builds client-to-server frames byte by byte, masking with a chosen key (RFC 6455 §5.2, §5.3).
/// Written plainly, as an independent reference for the decoder.
enum ClientFrame {
    enum LengthForm {
        /// The shortest form, as §5.2 asks of senders.
        case minimal
        /// Always the 16-bit form (non-minimal for lengths ≤ 125).
        case extended16
        /// Always the 64-bit form.
        case extended64
    }

    static let defaultKey: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]

    static func make(
        opcode: UInt8, payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0,
        masked: Bool = true, key: [UInt8] = defaultKey, lengthForm: LengthForm = .minimal
    ) -> [UInt8] {
        var frame: [UInt8] = [(fin ? 0x80 : 0) | (rsv << 4) | opcode]
        let maskBit: UInt8 = masked ? 0x80 : 0
        let length = payload.count
        switch lengthForm {
        case .minimal where length <= 125:
            frame.append(maskBit | UInt8(length))
        case .minimal where length <= 0xFFFF, .extended16:
            frame.append(maskBit | 126)
            frame += [UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
        case .minimal, .extended64:
            frame.append(maskBit | 127)
            frame += (0..<8).reversed().map { UInt8(UInt64(length) >> (UInt64($0) * 8) & 0xFF) }
        }
        if masked {
            frame += key
            frame += payload.enumerated().map { $0.element ^ key[$0.offset % 4] }
        } else {
            frame += payload
        }
        return frame
    }

    static func make(_ opcode: WebSocketOpcode, _ payload: [UInt8], fin: Bool = true, key: [UInt8] = defaultKey) -> [UInt8] {
        make(opcode: opcode.rawValue, payload: payload, fin: fin, key: key)
    }

    static func text(_ text: String, fin: Bool = true) -> [UInt8] {
        make(.text, Array(text.utf8), fin: fin)
    }

    static func close(code: UInt16, reason: [UInt8] = []) -> [UInt8] {
        make(.close, [UInt8(code >> 8), UInt8(code & 0xFF)] + reason)
    }
}

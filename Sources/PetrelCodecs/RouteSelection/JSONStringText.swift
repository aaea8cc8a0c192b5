/// Decoding of JSON string contents that the scanner has already validated, so nothing here
/// re-checks the escapes or the UTF-8.
enum JSONStringText {
    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte &- UInt8(ascii: "A") &+ 10
        default: return nil
        }
    }

    /// Whether the validated string contents `raw` (between the quotes) decode to `wanted`.
    static func equals(raw: UnsafeRawBufferPointer, hasEscapes: Bool, wanted: [UInt8]) -> Bool {
        guard hasEscapes else { return raw.elementsEqual(wanted) }
        // Escaped member names are rare; decoding never lengthens the text.
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: raw.count) { buffer in
            let length = unescape(raw, into: buffer)
            return UnsafeBufferPointer(rebasing: buffer[..<length]).elementsEqual(wanted)
        }
    }

    /// The decoded value of validated string contents.
    static func decode(raw: UnsafeRawBufferPointer, hasEscapes: Bool) -> String {
        guard hasEscapes else { return String(decoding: raw, as: UTF8.self) }
        return String(unsafeUninitializedCapacity: raw.count) { buffer in unescape(raw, into: buffer) }
    }

    /// Writes the UTF-8 of validated string contents into `output` (at least `raw.count` bytes:
    /// every escape is at least as long as what it stands for) and returns the length written.
    static func unescape(_ raw: UnsafeRawBufferPointer, into output: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var input = 0
        var written = 0
        func emit(_ byte: UInt8) {
            output[written] = byte
            written += 1
        }
        func hex4(at offset: Int) -> UInt32 {
            var value: UInt32 = 0
            for index in offset..<(offset + 4) { value = value << 4 | UInt32(hexValue(raw[index]) ?? 0) }
            return value
        }
        // The scanner rejected lone surrogates, so `scalar` is always a Unicode scalar value.
        func emitUTF8(_ scalar: UInt32) {
            switch scalar {
            case 0..<0x80:
                emit(UInt8(scalar))
            case 0x80..<0x800:
                emit(0xC0 | UInt8(scalar >> 6))
                emit(0x80 | UInt8(scalar & 0x3F))
            case 0x800..<0x10000:
                emit(0xE0 | UInt8(scalar >> 12))
                emit(0x80 | UInt8(scalar >> 6 & 0x3F))
                emit(0x80 | UInt8(scalar & 0x3F))
            default:
                emit(0xF0 | UInt8(scalar >> 18))
                emit(0x80 | UInt8(scalar >> 12 & 0x3F))
                emit(0x80 | UInt8(scalar >> 6 & 0x3F))
                emit(0x80 | UInt8(scalar & 0x3F))
            }
        }
        while input < raw.count {
            let byte = raw[input]
            guard byte == UInt8(ascii: "\\") else {
                emit(byte)
                input += 1
                continue
            }
            let escaped = raw[input + 1]
            input += 2
            switch escaped {
            case UInt8(ascii: "b"): emit(0x08)
            case UInt8(ascii: "f"): emit(0x0C)
            case UInt8(ascii: "n"): emit(0x0A)
            case UInt8(ascii: "r"): emit(0x0D)
            case UInt8(ascii: "t"): emit(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4(at: input)
                input += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    // The scanner guaranteed `\uDC00-DFFF` follows.
                    let low = hex4(at: input + 2)
                    input += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                emitUTF8(scalar)
            default:
                emit(escaped)  // `"`, `\` and `/` stand for themselves
            }
        }
        return written
    }
}

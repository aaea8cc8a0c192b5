/// Turns a captured value into route-key text: a string is decoded, a number or keyword is its
/// literal text, and an object or array becomes its compact JSON text. (API Gateway only says such
/// a value is "turned into a string"; compact JSON is deterministic and round-trips.)
enum JSONValueText {
    static func text(of value: CapturedJSONValue, in message: UnsafeRawBufferPointer) -> String {
        guard let kind = value.kind else { return "" }
        let raw = UnsafeRawBufferPointer(rebasing: message[value.range])
        switch kind {
        case .string(let hasEscapes):
            return JSONStringText.decode(raw: raw, hasEscapes: hasEscapes)
        case .literal:
            return String(decoding: raw, as: UTF8.self)
        case .container:
            return String(unsafeUninitializedCapacity: raw.count) { buffer in compact(raw, into: buffer) }
        }
    }

    /// Copies validated JSON without the whitespace between tokens; strings are copied as written.
    private static func compact(_ raw: UnsafeRawBufferPointer, into output: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var written = 0
        var inString = false
        var escaping = false
        for byte in raw {
            if inString {
                if escaping {
                    escaping = false
                } else if byte == UInt8(ascii: "\\") {
                    escaping = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
            } else {
                switch byte {
                case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                    continue
                case UInt8(ascii: "\""):
                    inString = true
                default:
                    break
                }
            }
            output[written] = byte
            written += 1
        }
        return written
    }
}

/// Character classes and comparisons of HTTP/1.1 syntax (RFC 9110 §5.6, RFC 9112), on bytes.
enum HTTPSyntax {
    // Computed, not stored: a stored static is reached through a once-guarded accessor in
    // unoptimised builds, which cost seconds per thousand slowloris heads under ThreadSanitizer.
    static var space: UInt8 { UInt8(ascii: " ") }
    static var horizontalTab: UInt8 { UInt8(ascii: "\t") }
    static var carriageReturn: UInt8 { UInt8(ascii: "\r") }
    static var lineFeed: UInt8 { UInt8(ascii: "\n") }
    static var colon: UInt8 { UInt8(ascii: ":") }
    static var comma: UInt8 { UInt8(ascii: ",") }

    /// tchar (RFC 9110 §5.6.2): "!#$%&'*+-.^_`|~", digits and letters.
    @inline(__always)
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// field-content bytes (RFC 9110 §5.5): HTAB, SP, VCHAR and obs-text; no other control byte, no DEL.
    @inline(__always)
    static func isFieldValueByte(_ byte: UInt8) -> Bool {
        byte == horizontalTab || (byte >= 0x20 && byte != 0x7F)
    }

    /// Bytes allowed in a request-target: the visible ASCII of RFC 3986 URIs; no SP, controls or obs-text.
    @inline(__always)
    static func isTargetByte(_ byte: UInt8) -> Bool { byte > 0x20 && byte < 0x7F }

    @inline(__always)
    static func isWhitespace(_ byte: UInt8) -> Bool { byte == space || byte == horizontalTab }

    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }

    /// Field names and tokens compare case-insensitively (RFC 9110 §5.1), in ASCII only.
    static func equalsIgnoringASCIICase<Left: Collection<UInt8>, Right: Collection<UInt8>>(
        _ left: Left, _ right: Right
    ) -> Bool {
        guard left.count == right.count else { return false }
        var rightIndex = right.startIndex
        for leftByte in left {
            if lowercased(leftByte) != lowercased(right[rightIndex]) { return false }
            right.formIndex(after: &rightIndex)
        }
        return true
    }

    /// Calls `body` with each element of a comma-separated list (RFC 9110 §5.6.1), OWS trimmed, empty
    /// elements skipped, until `body` returns true. Returns whether it did.
    static func firstListElement(in value: String, where body: (Substring.UTF8View) -> Bool) -> Bool {
        let utf8 = value.utf8
        var elementStart = utf8.startIndex
        while elementStart < utf8.endIndex {
            let elementEnd = utf8[elementStart...].firstIndex(of: comma) ?? utf8.endIndex
            let element = trimmingWhitespace(value[elementStart..<elementEnd].utf8)
            if !element.isEmpty && body(element) { return true }
            elementStart = elementEnd == utf8.endIndex ? elementEnd : utf8.index(after: elementEnd)
        }
        return false
    }

    static func trimmingWhitespace(_ bytes: Substring.UTF8View) -> Substring.UTF8View {
        var trimmed = bytes
        while let first = trimmed.first, isWhitespace(first) { trimmed.removeFirst() }
        while let last = trimmed.last, isWhitespace(last) { trimmed.removeLast() }
        return trimmed
    }
}

/// A strict RFC 8259 validator that also records where the requested body paths are, in one pass
/// and without building a document tree: route selection runs on every message, so the common
/// case (`{"action":"sendmessage",...}`) must cost one scan and no allocation, and a message that
/// is not JSON at all must be rejected on its first byte.
///
/// Choices beyond RFC 8259:
/// - nesting deeper than ``maximumNestingDepth`` containers is rejected, so a hostile message cannot
///   exhaust the stack;
/// - `\u` escapes must form valid UTF-16 (a lone surrogate is rejected) and raw bytes inside strings
///   must be valid UTF-8, because the route key has to be a valid Swift `String`;
/// - when a member name repeats, the later occurrence wins, as in most JSON parsers.
struct JSONLookupScanner {
    static let maximumNestingDepth = 64

    private let bytes: UnsafeRawBufferPointer
    private let lookups: [BodyPath]
    /// One slot per lookup, filled while scanning.
    private let captures: UnsafeMutableBufferPointer<CapturedJSONValue>
    private var position = 0

    init(bytes: UnsafeRawBufferPointer, lookups: [BodyPath], captures: UnsafeMutableBufferPointer<CapturedJSONValue>) {
        self.bytes = bytes
        self.lookups = lookups
        self.captures = captures
    }

    /// Scans the whole message; `false` when it is not exactly one valid JSON value.
    /// `mask` has one bit per lookup that should be searched for.
    mutating func scanDocument(mask: UInt64) -> Bool {
        guard scanValue(pathDepth: 0, mask: mask) else { return false }
        skipWhitespace()
        return position == bytes.count
    }

    // MARK: Values

    /// `pathDepth` is how many path components lead to this value; `mask` the lookups whose
    /// first `pathDepth` components matched on the way here.
    private mutating func scanValue(pathDepth: Int, mask: UInt64) -> Bool {
        skipWhitespace()
        guard position < bytes.count else { return false }
        let start = position
        let kind: CapturedJSONValue.Kind
        switch bytes[position] {
        case UInt8(ascii: "{"):
            guard pathDepth < Self.maximumNestingDepth else { return false }
            position += 1
            guard scanObjectMembers(pathDepth: pathDepth, mask: mask) else { return false }
            kind = .container
        case UInt8(ascii: "["):
            guard pathDepth < Self.maximumNestingDepth else { return false }
            position += 1
            guard scanArrayElements(pathDepth: pathDepth, mask: mask) else { return false }
            kind = .container
        case UInt8(ascii: "\""):
            position += 1
            guard let hasEscapes = scanStringBody() else { return false }
            if mask != 0 {
                record(CapturedJSONValue(range: (start + 1)..<(position - 1), kind: .string(hasEscapes: hasEscapes)),
                       pathDepth: pathDepth, mask: mask)
            }
            return true
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            guard scanNumber() else { return false }
            kind = .literal
        case UInt8(ascii: "t"):
            guard scanKeyword("true") else { return false }
            kind = .literal
        case UInt8(ascii: "f"):
            guard scanKeyword("false") else { return false }
            kind = .literal
        case UInt8(ascii: "n"):
            guard scanKeyword("null") else { return false }
            kind = .literal
        default:
            return false
        }
        if mask != 0 {
            record(CapturedJSONValue(range: start..<position, kind: kind), pathDepth: pathDepth, mask: mask)
        }
        return true
    }

    /// Stores the value for every lookup in `mask` whose path ends here.
    private func record(_ value: CapturedJSONValue, pathDepth: Int, mask: UInt64) {
        var remaining = mask
        while remaining != 0 {
            let lookup = remaining.trailingZeroBitCount
            remaining &= remaining &- 1
            if lookups[lookup].count == pathDepth { captures[lookup] = value }
        }
    }

    /// After `{`; consumes through `}`.
    private mutating func scanObjectMembers(pathDepth: Int, mask: UInt64) -> Bool {
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
            position += 1
            return true
        }
        while true {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { return false }
            position += 1
            let nameStart = position
            guard let nameHasEscapes = scanStringBody() else { return false }
            let memberMask = mask == 0
                ? 0
                : lookupsContinuing(mask: mask, pathDepth: pathDepth,
                                    intoMember: nameStart..<(position - 1), nameHasEscapes: nameHasEscapes)
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { return false }
            position += 1
            guard scanValue(pathDepth: pathDepth + 1, mask: memberMask) else { return false }
            skipWhitespace()
            guard position < bytes.count else { return false }
            switch bytes[position] {
            case UInt8(ascii: ","):
                position += 1
            case UInt8(ascii: "}"):
                position += 1
                return true
            default:
                return false
            }
        }
    }

    /// After `[`; consumes through `]`.
    private mutating func scanArrayElements(pathDepth: Int, mask: UInt64) -> Bool {
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
            position += 1
            return true
        }
        var index = 0
        while true {
            let elementMask = mask == 0 ? 0 : lookupsContinuing(mask: mask, pathDepth: pathDepth, intoElement: index)
            guard scanValue(pathDepth: pathDepth + 1, mask: elementMask) else { return false }
            index += 1
            skipWhitespace()
            guard position < bytes.count else { return false }
            switch bytes[position] {
            case UInt8(ascii: ","):
                position += 1
            case UInt8(ascii: "]"):
                position += 1
                return true
            default:
                return false
            }
        }
    }

    private func lookupsContinuing(
        mask: UInt64, pathDepth: Int, intoMember name: Range<Int>, nameHasEscapes: Bool
    ) -> UInt64 {
        var result: UInt64 = 0
        var remaining = mask
        while remaining != 0 {
            let lookup = remaining.trailingZeroBitCount
            remaining &= remaining &- 1
            let path = lookups[lookup]
            guard pathDepth < path.count, case .key(let wanted) = path[pathDepth] else { continue }
            let raw = UnsafeRawBufferPointer(rebasing: bytes[name])
            if JSONStringText.equals(raw: raw, hasEscapes: nameHasEscapes, wanted: wanted) {
                result |= 1 << UInt64(lookup)
            }
        }
        return result
    }

    private func lookupsContinuing(mask: UInt64, pathDepth: Int, intoElement index: Int) -> UInt64 {
        var result: UInt64 = 0
        var remaining = mask
        while remaining != 0 {
            let lookup = remaining.trailingZeroBitCount
            remaining &= remaining &- 1
            let path = lookups[lookup]
            if pathDepth < path.count, path[pathDepth] == .index(index) { result |= 1 << UInt64(lookup) }
        }
        return result
    }

    // MARK: Tokens

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                position += 1
            default:
                return
            }
        }
    }

    private mutating func scanKeyword(_ keyword: StaticString) -> Bool {
        let length = keyword.utf8CodeUnitCount
        guard bytes.count - position >= length else { return false }
        let expected = UnsafeRawBufferPointer(start: keyword.utf8Start, count: length)
        for offset in 0..<length where bytes[position + offset] != expected[offset] { return false }
        position += length
        return true
    }

    /// RFC 8259 §6: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    private mutating func scanNumber() -> Bool {
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        guard position < bytes.count else { return false }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
        } else {
            guard skipDigits() else { return false }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard skipDigits() else { return false }
        }
        if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                position += 1
            }
            guard skipDigits() else { return false }
        }
        return true
    }

    /// One or more digits.
    private mutating func skipDigits() -> Bool {
        let start = position
        while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) {
            position += 1
        }
        return position > start
    }

    /// After the opening quote; consumes through the closing quote. Returns whether the string
    /// contained escapes, or `nil` when it is malformed (RFC 8259 §7 plus strict UTF-8/UTF-16).
    private mutating func scanStringBody() -> Bool? {
        var hasEscapes = false
        while position < bytes.count {
            let byte = bytes[position]
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                return hasEscapes
            case UInt8(ascii: "\\"):
                hasEscapes = true
                guard scanEscape() else { return nil }
            case 0x00..<0x20:
                return nil  // control characters must be escaped
            case 0x20..<0x80:
                position += 1
            default:
                guard scanUTF8Sequence() else { return nil }
            }
        }
        return nil  // unterminated
    }

    /// At a backslash.
    private mutating func scanEscape() -> Bool {
        position += 1
        guard position < bytes.count else { return false }
        switch bytes[position] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
            UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            position += 1
            return true
        case UInt8(ascii: "u"):
            position += 1
            guard let unit = scanHex4() else { return false }
            switch unit {
            case 0xD800...0xDBFF:
                // A high surrogate must be followed at once by an escaped low surrogate.
                guard bytes.count - position >= 6,
                    bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u")
                else { return false }
                position += 2
                guard let low = scanHex4(), (0xDC00...0xDFFF).contains(low) else { return false }
                return true
            case 0xDC00...0xDFFF:
                return false  // lone low surrogate
            default:
                return true
            }
        default:
            return false
        }
    }

    private mutating func scanHex4() -> UInt16? {
        guard bytes.count - position >= 4 else { return nil }
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard let digit = JSONStringText.hexValue(bytes[position]) else { return nil }
            value = value << 4 | UInt16(digit)
            position += 1
        }
        return value
    }

    /// At a byte >= 0x80: one well-formed UTF-8 sequence (RFC 3629 §4: no overlongs, no
    /// surrogates, nothing above U+10FFFF).
    private mutating func scanUTF8Sequence() -> Bool {
        let lead = bytes[position]
        let continuationCount: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: continuationCount = 1
        case 0xE0: continuationCount = 2; secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: continuationCount = 2
        case 0xED: continuationCount = 2; secondRange = 0x80...0x9F
        case 0xF0: continuationCount = 3; secondRange = 0x90...0xBF
        case 0xF1...0xF3: continuationCount = 3
        case 0xF4: continuationCount = 3; secondRange = 0x80...0x8F
        default: return false
        }
        guard bytes.count - position > continuationCount, secondRange.contains(bytes[position + 1]) else {
            return false
        }
        for offset in stride(from: 2, through: continuationCount, by: 1)
        where bytes[position + offset] & 0xC0 != 0x80 {
            return false
        }
        position += continuationCount + 1
        return true
    }
}

/// A parsed expression: literal text interleaved with body lookups.
///
/// Grammar (API Gateway's `routeSelectionExpression`, restricted to what WebSocket routing uses):
///
///     expression := ( literal | "\$" | variable )+
///     variable   := "$request.body" unbraced-path | "${request.body" braced-path "}"
///     path       := ( "." key | "[" digits "]" )*
///
/// - An unbraced key is made of ASCII letters, digits, `_`, `-` and non-ASCII bytes, so that
///   `$request.body.action` works alone and `$request.body.a/x` ends the variable at `/`.
///   Braces mark the end explicitly; inside them a key is anything but `.`, `[` and `}`.
/// - `\$` is a literal dollar; any other backslash is literal text.
/// - Any other `$` is an error rather than literal text, so a typo such as `$default` (meant as
///   `\$default`) is caught when the configuration loads instead of silently never matching.
struct RouteSelectionTemplate: Equatable, Sendable {
    enum Segment: Equatable, Sendable {
        case literal(String)
        /// Index into `lookups`; a path used twice is looked up once.
        case lookup(Int)
    }

    /// Lookups are tracked in a 64-bit mask while scanning.
    static let maximumLookups = 64

    var segments: [Segment]
    var lookups: [BodyPath]

    init(parsing expression: String) throws(RouteSelectionParseError) {
        var parser = Parser(expression: expression)
        try parser.parse()
        segments = parser.segments
        lookups = parser.lookups
    }
}

private let backslash = UInt8(ascii: "\\")
private let dollar = UInt8(ascii: "$")
private let openBrace = UInt8(ascii: "{")
private let closeBrace = UInt8(ascii: "}")
private let dot = UInt8(ascii: ".")
private let openBracket = UInt8(ascii: "[")
private let closeBracket = UInt8(ascii: "]")
private let variablePrefix = Array("request.body".utf8)

extension RouteSelectionTemplate {
    fileprivate struct Parser {
        let expression: String
        let bytes: [UInt8]
        var position = 0
        var literal: [UInt8] = []
        var segments: [Segment] = []
        var lookups: [BodyPath] = []

        init(expression: String) {
            self.expression = expression
            self.bytes = Array(expression.utf8)
        }

        mutating func parse() throws(RouteSelectionParseError) {
            guard !bytes.isEmpty else { throw failure("the expression is empty") }
            while position < bytes.count {
                let byte = bytes[position]
                if byte == backslash, position + 1 < bytes.count, bytes[position + 1] == dollar {
                    literal.append(dollar)
                    position += 2
                } else if byte == dollar {
                    flushLiteral()
                    let path = try parseVariable()
                    try appendLookup(path)
                } else {
                    literal.append(byte)
                    position += 1
                }
            }
            flushLiteral()
        }

        private mutating func flushLiteral() {
            guard !literal.isEmpty else { return }
            segments.append(.literal(String(decoding: literal, as: UTF8.self)))
            literal.removeAll(keepingCapacity: true)
        }

        private mutating func appendLookup(_ path: BodyPath) throws(RouteSelectionParseError) {
            if let existing = lookups.firstIndex(of: path) {
                segments.append(.lookup(existing))
                return
            }
            guard lookups.count < RouteSelectionTemplate.maximumLookups else {
                throw failure("more than \(RouteSelectionTemplate.maximumLookups) different lookups")
            }
            lookups.append(path)
            segments.append(.lookup(lookups.count - 1))
        }

        /// Parses from the `$` to the end of the variable.
        private mutating func parseVariable() throws(RouteSelectionParseError) -> BodyPath {
            let start = position
            position += 1  // "$"
            let braced = position < bytes.count && bytes[position] == openBrace
            if braced { position += 1 }
            guard bytes[position...].starts(with: variablePrefix) else {
                position = start
                throw failure(
                    "unknown variable; only $request.body.PATH and ${request.body.PATH} are supported (write \\$ for a literal dollar)"
                )
            }
            position += variablePrefix.count
            if !braced, position < bytes.count, Self.isUnbracedKeyByte(bytes[position]) {
                position = start
                throw failure("unknown variable; did you mean $request.body.PATH?")
            }
            var path: BodyPath = []
            while position < bytes.count {
                let byte = bytes[position]
                if byte == dot {
                    position += 1
                    path.append(.key(try parseKey(braced: braced)))
                } else if byte == openBracket {
                    position += 1
                    path.append(.index(try parseIndex()))
                } else {
                    break
                }
            }
            if braced {
                guard position < bytes.count, bytes[position] == closeBrace else {
                    throw failure("expected \"}\" to close the variable started at offset \(start)")
                }
                position += 1
            }
            return path
        }

        private mutating func parseKey(braced: Bool) throws(RouteSelectionParseError) -> [UInt8] {
            let start = position
            while position < bytes.count {
                let byte = bytes[position]
                let ends = braced
                    ? (byte == dot || byte == openBracket || byte == closeBrace)
                    : !Self.isUnbracedKeyByte(byte)
                if ends { break }
                position += 1
            }
            guard position > start else { throw failure("expected a member name after \".\"") }
            return Array(bytes[start..<position])
        }

        private mutating func parseIndex() throws(RouteSelectionParseError) -> Int {
            var value = 0
            let start = position
            while position < bytes.count, let digit = Self.digitValue(bytes[position]) {
                let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times10.addingReportingOverflow(digit)
                guard !overflow1, !overflow2 else { throw failure("array index too large") }
                value = sum
                position += 1
            }
            guard position > start, position < bytes.count, bytes[position] == closeBracket else {
                throw failure("expected an array index like [0]")
            }
            position += 1
            return value
        }

        private func failure(_ reason: String) -> RouteSelectionParseError {
            RouteSelectionParseError(expression: expression, offset: position, reason: reason)
        }

        private static func digitValue(_ byte: UInt8) -> Int? {
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) ? Int(byte &- UInt8(ascii: "0")) : nil
        }

        private static func isUnbracedKeyByte(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"), 0x80...0xFF:
                return true
            default:
                return false
            }
        }
    }
}

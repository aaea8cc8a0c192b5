/// API Gateway's WebSocket `routeSelectionExpression`, parsed once when the configuration loads
/// and evaluated against every incoming message.
///
/// Supported forms (see `RouteSelectionTemplate` for the exact grammar):
/// - `$request.body.PATH`, e.g. `$request.body.action` or `$request.body.a.b[2].c`;
/// - templates mixing `${request.body.PATH}` lookups with literal text, e.g.
///   `${request.body.service}/${request.body.action}`;
/// - static text (`action`, `\$default`), which evaluates to itself without reading the message.
///
/// Evaluation: a lookup that matches nothing yields `""`; a string yields its decoded text; a
/// number, `true`, `false` or `null` yields its literal JSON text; an object or array yields its
/// compact JSON text. A message that is not strictly valid JSON (RFC 8259, UTF-8, at most
/// ``maximumNestingDepth`` nested containers) is ``RouteSelectionResult/notEvaluable``.
public struct RouteSelectionExpression: Sendable, Equatable, CustomStringConvertible {
    /// Deeper messages are not evaluable; this bounds the scanner's recursion.
    public static let maximumNestingDepth = JSONLookupScanner.maximumNestingDepth

    /// The expression as written.
    public let description: String
    private let template: RouteSelectionTemplate
    /// Set when the expression has no variables, so evaluation never touches the message.
    private let staticKey: String?

    public init(parsing expression: String) throws(RouteSelectionParseError) {
        description = expression
        template = try RouteSelectionTemplate(parsing: expression)
        if template.lookups.isEmpty {
            staticKey = template.segments.reduce(into: "") { text, segment in
                if case .literal(let literal) = segment { text += literal }
            }
        } else {
            staticKey = nil
        }
    }

    /// No variables at all: the expression evaluates to itself whatever the message.
    public var isStatic: Bool { staticKey != nil }

    public func evaluate(_ message: UnsafeRawBufferPointer) -> RouteSelectionResult {
        if let staticKey { return .key(staticKey) }
        let lookups = template.lookups
        return withUnsafeTemporaryAllocation(of: CapturedJSONValue.self, capacity: lookups.count) { captures in
            captures.initialize(repeating: .missing)
            var scanner = JSONLookupScanner(bytes: message, lookups: lookups, captures: captures)
            let allLookups: UInt64 = lookups.count == 64 ? ~0 : (1 << UInt64(lookups.count)) - 1
            guard scanner.scanDocument(mask: allLookups) else { return .notEvaluable }
            return .key(assembleKey(captures: captures, message: message))
        }
    }

    public func evaluate(_ message: [UInt8]) -> RouteSelectionResult {
        message.withUnsafeBytes { evaluate($0) }
    }

    private func assembleKey(captures: UnsafeMutableBufferPointer<CapturedJSONValue>, message: UnsafeRawBufferPointer) -> String {
        // The common case, a single variable, returns the looked-up text itself.
        if template.segments.count == 1, case .lookup(let lookup) = template.segments[0] {
            return JSONValueText.text(of: captures[lookup], in: message)
        }
        var key = ""
        for segment in template.segments {
            switch segment {
            case .literal(let literal):
                key += literal
            case .lookup(let lookup):
                key += JSONValueText.text(of: captures[lookup], in: message)
            }
        }
        return key
    }
}

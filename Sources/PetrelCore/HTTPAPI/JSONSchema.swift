/// The JSON Schema subset API Gateway's request validators use for bodies (draft 4 keywords):
/// `type` (one or a list of object, array, string, number, integer, boolean, null), `required`,
/// `properties`, `additionalProperties` (boolean), `items`, `enum`, `minLength`, `maxLength`,
/// `minimum`, `maximum`, `minItems`, `maxItems`, `pattern` (searched, not anchored, as in
/// JSON Schema). Annotations (`$schema`, `$id`, `title`, `description`, `default`, `examples`)
/// are ignored; any other keyword is refused when the schema is compiled, so a schema never
/// silently checks less than its author thinks.
public final class JSONSchema: @unchecked Sendable {
    // @unchecked: immutable after init; `Regex` is only read.

    public enum Kind: String, Sendable, CaseIterable {
        case object, array, string, number, integer, boolean, null
    }

    public struct CompileError: Error, Sendable, Equatable, CustomStringConvertible {
        /// JSON-pointer-like location inside the schema, e.g. `/properties/name/maxLength`.
        public let location: String
        public let reason: String
        public var description: String { location.isEmpty ? reason : "\(location): \(reason)" }
    }

    let types: [Kind]?
    let required: [String]
    let properties: [(name: String, schema: JSONSchema)]
    let additionalProperties: Bool
    let items: JSONSchema?
    let allowed: [JSONValue]?
    let minLength: Int?
    let maxLength: Int?
    let minimum: Double?
    let maximum: Double?
    let minItems: Int?
    let maxItems: Int?
    let pattern: (text: String, regex: Regex<AnyRegexOutput>)?

    static let annotations: Set<String> = ["$schema", "$id", "id", "title", "description", "default", "examples", "$comment"]

    public convenience init(_ json: JSONValue) throws(CompileError) {
        try self.init(json, at: "")
    }

    private init(_ json: JSONValue, at location: String) throws(CompileError) {
        guard case .object(let members) = json else { throw CompileError(location: location, reason: "a schema must be an object") }
        var types: [Kind]?
        var required: [String] = []
        var properties: [(String, JSONSchema)] = []
        var additional = true
        var items: JSONSchema?
        var allowed: [JSONValue]?
        var minLength: Int?, maxLength: Int?, minItems: Int?, maxItems: Int?
        var minimum: Double?, maximum: Double?
        var pattern: (String, Regex<AnyRegexOutput>)?
        for (keyword, value) in members {
            let here = location + "/" + keyword
            switch keyword {
            case "type":
                let names: [JSONValue]
                if case .array(let list) = value { names = list } else { names = [value] }
                var kinds: [Kind] = []
                for name in names {
                    guard let text = name.stringValue, let kind = Kind(rawValue: text) else {
                        throw CompileError(location: here, reason: "expected one of \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    kinds.append(kind)
                }
                if kinds.isEmpty { throw CompileError(location: here, reason: "must name at least one type") }
                types = kinds
            case "required":
                guard case .array(let list) = value, let names = Optional(list.compactMap(\.stringValue)), names.count == list.count else {
                    throw CompileError(location: here, reason: "expected a list of property names")
                }
                required = names
            case "properties":
                guard case .object(let entries) = value else { throw CompileError(location: here, reason: "expected an object of schemas") }
                for (name, schema) in entries {
                    properties.append((name, try JSONSchema(schema, at: here + "/" + name)))
                }
            case "additionalProperties":
                guard case .bool(let flag) = value else { throw CompileError(location: here, reason: "only true or false is supported") }
                additional = flag
            case "items":
                items = try JSONSchema(value, at: here)
            case "enum":
                guard case .array(let list) = value, !list.isEmpty else { throw CompileError(location: here, reason: "expected a non-empty list") }
                allowed = list
            case "minLength", "maxLength", "minItems", "maxItems":
                guard case .number(let n, _) = value, n >= 0, n == n.rounded(), n < 1e15 else {
                    throw CompileError(location: here, reason: "expected a non-negative integer")
                }
                switch keyword {
                case "minLength": minLength = Int(n)
                case "maxLength": maxLength = Int(n)
                case "minItems": minItems = Int(n)
                default: maxItems = Int(n)
                }
            case "minimum", "maximum":
                guard case .number(let n, _) = value else { throw CompileError(location: here, reason: "expected a number") }
                if keyword == "minimum" { minimum = n } else { maximum = n }
            case "pattern":
                guard let text = value.stringValue else { throw CompileError(location: here, reason: "expected a regular expression string") }
                do {
                    pattern = (text, try Regex(text))
                } catch {
                    throw CompileError(location: here, reason: "not a valid regular expression")
                }
            default:
                if !Self.annotations.contains(keyword) {
                    throw CompileError(location: here, reason: "unsupported keyword (supported: type, required, properties, additionalProperties, items, enum, minLength, maxLength, minimum, maximum, minItems, maxItems, pattern)")
                }
            }
        }
        self.types = types
        self.required = required
        self.properties = properties
        self.additionalProperties = additional
        self.items = items
        self.allowed = allowed
        self.minLength = minLength
        self.maxLength = maxLength
        self.minimum = minimum
        self.maximum = maximum
        self.minItems = minItems
        self.maxItems = maxItems
        self.pattern = pattern
    }

    /// The first violation as `location: reason` (for logs), or nil when `value` conforms.
    public func firstViolation(_ value: JSONValue) -> String? {
        check(value, at: "")
    }

    private func check(_ value: JSONValue, at location: String) -> String? {
        let here = location.isEmpty ? "/" : location
        if let types, !types.contains(where: { Self.matches(value, $0) }) {
            return "\(here): expected \(types.map(\.rawValue).joined(separator: " or "))"
        }
        if let allowed, !allowed.contains(value) {
            return "\(here): not one of the allowed values"
        }
        switch value {
        case .string(let text):
            let length = text.unicodeScalars.count
            if let minLength, length < minLength { return "\(here): shorter than \(minLength)" }
            if let maxLength, length > maxLength { return "\(here): longer than \(maxLength)" }
            if let pattern, (try? pattern.regex.firstMatch(in: text)) == nil {
                return "\(here): does not match \(pattern.text)"
            }
        case .number(let n, _):
            if let minimum, n < minimum { return "\(here): less than \(minimum)" }
            if let maximum, n > maximum { return "\(here): greater than \(maximum)" }
        case .array(let list):
            if let minItems, list.count < minItems { return "\(here): fewer than \(minItems) items" }
            if let maxItems, list.count > maxItems { return "\(here): more than \(maxItems) items" }
            if let items {
                for (index, item) in list.enumerated() {
                    if let problem = items.check(item, at: location + "/\(index)") { return problem }
                }
            }
        case .object(let members):
            for name in required where !members.contains(where: { $0.key == name }) {
                return "\(here): missing required property \(name)"
            }
            for (name, member) in members {
                if let schema = properties.first(where: { $0.name == name })?.schema {
                    if let problem = schema.check(member, at: location + "/" + name) { return problem }
                } else if !additionalProperties {
                    return "\(here): property \(name) is not allowed"
                }
            }
        case .bool, .null:
            break
        }
        return nil
    }

    private static func matches(_ value: JSONValue, _ kind: Kind) -> Bool {
        switch (kind, value) {
        case (.object, .object), (.array, .array), (.string, .string), (.boolean, .bool), (.null, .null), (.number, .number):
            return true
        case (.integer, .number(let n, _)):
            return n == n.rounded(.towardZero) && n.isFinite
        default:
            return false
        }
    }
}

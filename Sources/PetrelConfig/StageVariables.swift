/// API Gateway's stage variables (key `stage_variables`): `${stageVariables.name}` in an `http` or
/// `http_proxy` integration's URL and headers. They are fixed for the life of a configuration, so
/// they are substituted once, when the file is loaded: requests pay nothing, and an unknown name
/// is a config error with its key path rather than a broken URL at run time.
enum StageVariables {
    static let opener = "${stageVariables."
    /// API Gateway's limit per stage.
    static let maxCount = 100

    /// Letters, digits and underscores, as API Gateway allows.
    static func isName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { byte in
            byte == UInt8(ascii: "_") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
        }
    }

    /// Values go into URLs and headers: no whitespace or control characters, no braces (which
    /// would read as path placeholders once substituted).
    static func isValue(_ value: String) -> Bool {
        value.utf8.allSatisfy { $0 > 0x20 && $0 != 0x7F && $0 != UInt8(ascii: "{") && $0 != UInt8(ascii: "}") }
    }

    static func isHeader(name: String, value: String) -> Bool {
        !name.isEmpty
            && name.utf8.allSatisfy { byte in
                byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            }
            && !value.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0 }
    }

    /// `text` with every `${stageVariables.name}` replaced by its value.
    static func substitute(in text: String, variables: [String: String]) -> Result<String, PlaceholderSubstitution.Failure> {
        PlaceholderSubstitution.substitute(in: text, opener: opener, isName: isName) { variables[$0] }
    }
}

extension ConfigReader {
    func decodeStageVariables(_ fields: MappingFields) -> [String: String] {
        defer { fields.finish() }
        var variables: [String: String] = [:]
        if fields.keys.count > StageVariables.maxCount {
            report(fields.keyPath, "at most \(StageVariables.maxCount) stage variables (API Gateway's limit)")
        }
        for name in fields.keys {
            guard let value = fields.string(name) else { continue }
            if !StageVariables.isName(name) {
                report(fields.path(name), "a stage variable name has letters, digits and _ only")
            } else if !StageVariables.isValue(value) {
                report(fields.path(name), "a stage variable value has no spaces, control characters or braces")
            } else {
                variables[name] = value
            }
        }
        return variables
    }

    /// Replaces `${stageVariables.name}` in `http`/`http_proxy` URLs and headers.
    func substituteStageVariables(in config: inout PetrelConfig) {
        for name in config.integrations.keys.sorted() {
            guard var integration = config.integrations[name], integration.type != .mock else { continue }
            let at = KeyPath.member("integrations", name)
            func resolved(_ text: String, at keyPath: String) -> String? {
                switch StageVariables.substitute(in: text, variables: config.stageVariables) {
                case .success(let value): return value
                case .failure(.missing(let variable)):
                    report(keyPath, "no stage variable named \(variable) in stage_variables")
                case .failure(.malformed):
                    report(keyPath, "expected ${stageVariables.name} with a name of letters, digits and _")
                }
                return nil
            }
            if let url = integration.url, let value = resolved(url, at: KeyPath.member(at, "url")) {
                if value.hasPrefix("http://") || value.hasPrefix("https://") {
                    integration.url = value
                } else {
                    report(KeyPath.member(at, "url"), "expected an http:// or https:// URL once stage variables are substituted")
                }
            }
            for (header, text) in integration.headers.sorted(by: { $0.key < $1.key }) {
                integration.headers[header] = resolved(text, at: KeyPath.member(KeyPath.member(at, "headers"), header))
            }
            config.integrations[name] = integration
        }
    }
}

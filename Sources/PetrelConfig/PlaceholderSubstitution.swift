/// `${prefix.name}`-style placeholders replaced at load time (`${env:NAME}`, `${stageVariables.name}`).
/// Other `${...}` forms in the same string are left alone.
enum PlaceholderSubstitution {
    enum Failure: Error, Equatable {
        /// A well-formed placeholder whose name has no value.
        case missing(String)
        /// No closing brace, or a name that `isName` refuses.
        case malformed
    }

    static func substitute(in text: String, opener: String, isName: (String) -> Bool,
                           value: (String) -> String?) -> Result<String, Failure> {
        guard text.contains(opener) else { return .success(text) }
        var result = ""
        var rest = Substring(text)
        while let start = rest.firstRange(of: opener) {
            result += rest[..<start.lowerBound]
            let afterOpener = rest[start.upperBound...]
            guard let close = afterOpener.firstIndex(of: "}") else { return .failure(.malformed) }
            let name = String(afterOpener[..<close])
            guard isName(name) else { return .failure(.malformed) }
            guard let replacement = value(name) else { return .failure(.missing(name)) }
            result += replacement
            rest = afterOpener[afterOpener.index(after: close)...]
        }
        result += rest
        return .success(result)
    }
}

/// Replaces every `${env:NAME}` in a string value with the variable's value, so secrets can live
/// in the environment (DESIGN §3). Other `${...}` forms, such as a mock body's
/// `${context.connectionId}` or a route selection `${request.body.x}`, are left alone.
/// There is no escape for a literal `${env:`; none of Petrel's values needs one.
enum EnvironmentSubstitution {
    enum Failure: Error, Equatable {
        case missing(String)
        case malformed
    }

    static func substitute(in text: String, environment: [String: String]) -> Result<String, Failure> {
        let opener = "${env:"
        guard text.contains(opener) else { return .success(text) }
        var result = ""
        var rest = Substring(text)
        while let start = rest.firstRange(of: opener) {
            result += rest[..<start.lowerBound]
            let afterOpener = rest[start.upperBound...]
            guard let close = afterOpener.firstIndex(of: "}") else { return .failure(.malformed) }
            let name = String(afterOpener[..<close])
            guard isVariableName(name) else { return .failure(.malformed) }
            guard let value = environment[name] else { return .failure(.missing(name)) }
            result += value
            rest = afterOpener[afterOpener.index(after: close)...]
        }
        result += rest
        return .success(result)
    }

    private static func isVariableName(_ name: String) -> Bool {
        guard let first = name.utf8.first, decimalDigit(first) == nil else { return false }
        return name.utf8.allSatisfy { byte in
            decimalDigit(byte) != nil || byte == UInt8(ascii: "_")
                || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
        }
    }
}

/// Replaces every `${env:NAME}` in a string value with the variable's value, so secrets can live
/// in the environment (DESIGN §3). Other `${...}` forms, such as a mock body's
/// `${context.connectionId}` or a route selection `${request.body.x}`, are left alone.
/// There is no escape for a literal `${env:`; none of Petrel's values needs one.
enum EnvironmentSubstitution {
    typealias Failure = PlaceholderSubstitution.Failure

    static func substitute(in text: String, environment: [String: String]) -> Result<String, Failure> {
        PlaceholderSubstitution.substitute(in: text, opener: "${env:", isName: isVariableName) { environment[$0] }
    }

    private static func isVariableName(_ name: String) -> Bool {
        guard let first = name.utf8.first, decimalDigit(first) == nil else { return false }
        return name.utf8.allSatisfy { byte in
            decimalDigit(byte) != nil || byte == UInt8(ascii: "_")
                || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
        }
    }
}

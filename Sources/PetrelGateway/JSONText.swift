import PetrelCore

/// JSON string escaping for the messages the gateway writes itself; one implementation, in
/// PetrelCore's `JSONValue`, serves the gateway, the HTTP API and the logs.
enum JSONText {
    static func appendString(_ s: String, to out: inout String) {
        JSONValue.appendQuoted(s, to: &out)
    }

    static func quoted(_ s: String) -> String {
        JSONValue.quoted(s)
    }
}

import PetrelCore

/// Reading the admin API's answers: error bodies are `{"message": ...}` (DESIGN §6).
enum AdminMessage {
    static func text(of body: [UInt8]) -> String {
        if let json = JSONValue.parse(body), let message = json["message"]?.stringValue { return message }
        return String(decoding: body.prefix(200), as: UTF8.self)
    }
}

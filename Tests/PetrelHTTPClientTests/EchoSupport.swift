import Foundation
import PetrelHTTPClient

/// What `/echo` saw of a request.
struct Echo {
    let method: String
    let path: String
    let headers: [(String, String)]
    let body: [UInt8]
    let port: Int
    let peer: String?

    init?(_ response: HTTPClientResponse?) {
        guard let response,
              let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
              let method = object["method"] as? String, let path = object["path"] as? String,
              let headers = object["headers"] as? [[String]], let body = object["body"] as? String,
              let bytes = Data(base64Encoded: body), let port = object["port"] as? Int
        else { return nil }
        self.method = method
        self.path = path
        self.headers = headers.map { ($0[0], $0[1]) }
        self.body = Array(bytes)
        self.port = port
        self.peer = object["peer"] as? String
    }

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

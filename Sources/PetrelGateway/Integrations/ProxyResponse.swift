import Foundation
import PetrelCore

/// Reads a backend's answer the way API Gateway reads a Lambda proxy's: a JSON object with a
/// numeric `statusCode` is a proxy response (`headers`, `body`, `isBase64Encoded`); anything
/// else is the body itself, with the HTTP status (DESIGN §5).
enum ProxyResponse {
    static func reply(httpStatus: Int, body: [UInt8]) -> IntegrationReply {
        if body.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) == UInt8(ascii: "{"),
           let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
           let statusNumber = object["statusCode"] as? NSNumber, !(object["statusCode"] is Bool) {
            var headers: [(String, String)] = []
            if let map = object["headers"] as? [String: Any] {
                for (name, value) in map { headers.append((name, "\(value)")) }
            }
            var payload: [UInt8] = []
            if let text = object["body"] as? String {
                if (object["isBase64Encoded"] as? Bool) == true, let data = Data(base64Encoded: text) {
                    payload = Array(data)
                } else {
                    payload = Array(text.utf8)
                }
            } else if let other = object["body"], !(other is NSNull),
                      let data = try? JSONSerialization.data(withJSONObject: other, options: [.fragmentsAllowed]) {
                payload = Array(data)
            }
            let subprotocol = headers.first { $0.0.lowercased() == "sec-websocket-protocol" }?.1
            return .response(status: statusNumber.intValue, body: payload, headers: headers, subprotocol: subprotocol)
        }
        if httpStatus >= 500 {
            return .failure(.badResponse)
        }
        return .response(status: httpStatus, body: body, headers: [], subprotocol: nil)
    }
}

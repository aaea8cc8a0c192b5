import Foundation
import PetrelCore

/// What nodes say to each other over Redis pub/sub: a forwarded `@connections` call, its answer,
/// and a group post for every node. JSON, as these are per management call, not per message.
enum ClusterMessage {
    case request(id: UInt64, from: String, operation: ConnectionOperation, connection: ConnectionID)
    case reply(id: UInt64, response: HTTPResponse)
    case groupPost(group: String, body: [UInt8])

    func encoded() -> [UInt8] {
        var object: [String: Any]
        switch self {
        case .request(let id, let from, let operation, let connection):
            object = ["t": "req", "id": String(id), "from": from, "conn": connection.description]
            switch operation {
            case .post(let bytes): object["op"] = "post"; object["body"] = Data(bytes).base64EncodedString()
            case .get: object["op"] = "get"
            case .delete(let code, let reason): object["op"] = "delete"; object["code"] = Int(code); object["reason"] = reason
            case .join(let group): object["op"] = "join"; object["group"] = group
            case .leave(let group): object["op"] = "leave"; object["group"] = group
            }
        case .reply(let id, let response):
            object = ["t": "rep", "id": String(id), "status": response.status,
                      "headers": response.headers.map { [$0.0, $0.1] }, "body": Data(response.body).base64EncodedString()]
        case .groupPost(let group, let body):
            object = ["t": "group", "group": group, "body": Data(body).base64EncodedString()]
        }
        return Array((try? JSONSerialization.data(withJSONObject: object)) ?? Data())
    }

    init?(_ bytes: [UInt8]) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              let kind = object["t"] as? String else { return nil }
        func body() -> [UInt8] { (object["body"] as? String).flatMap { Data(base64Encoded: $0) }.map(Array.init) ?? [] }
        switch kind {
        case "req":
            guard let id = (object["id"] as? String).flatMap(UInt64.init), let from = object["from"] as? String,
                  let connection = (object["conn"] as? String).flatMap(ConnectionID.init), let op = object["op"] as? String
            else { return nil }
            let operation: ConnectionOperation
            switch op {
            case "post": operation = .post(body())
            case "get": operation = .get
            case "delete": operation = .delete(code: UInt16(object["code"] as? Int ?? 1000), reason: object["reason"] as? String ?? "")
            case "join": operation = .join(object["group"] as? String ?? "")
            case "leave": operation = .leave(object["group"] as? String ?? "")
            default: return nil
            }
            self = .request(id: id, from: from, operation: operation, connection: connection)
        case "rep":
            guard let id = (object["id"] as? String).flatMap(UInt64.init), let status = object["status"] as? Int else { return nil }
            let headers = (object["headers"] as? [[String]] ?? []).compactMap { $0.count == 2 ? ($0[0], $0[1]) : nil }
            self = .reply(id: id, response: HTTPResponse(status: status, headers: headers, body: body()))
        case "group":
            guard let group = object["group"] as? String else { return nil }
            self = .groupPost(group: group, body: body())
        default:
            return nil
        }
    }
}

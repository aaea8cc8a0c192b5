import Foundation
import PetrelCodecs
import PetrelCore
import PetrelHTTPClient

/// `type: http`: API Gateway's REQUEST authorizer. Receives the REQUEST input and answers the
/// simple form `{"isAuthorized":bool,"context":{}}` or the policy form
/// `{"principalId":..,"policyDocument":{..},"context":{}}`. Decisions are cached per identity
/// for `cache_ttl` on each loop.
struct HTTPAuthorizer: Sendable {
    let url: String
    let timeoutMs: Int64
    let cacheTTLMs: Int64?
    let identitySource: IdentitySource

    /// The REQUEST authorizer input for `$connect`.
    func input(head: HTTPRequestHead, connection: Connection, requestId: RequestID, settings: GatewaySettings) -> [UInt8] {
        var headers: [String: String] = [:]
        var multi: [String: [String]] = [:]
        for (name, value) in head.headers.entries {
            headers[name] = value
            multi[name, default: []].append(value)
        }
        var query: [String: String] = [:]
        var multiQuery: [String: [String]] = [:]
        for (name, value) in PercentDecoding.queryPairs(head.query) {
            query[name] = value
            multiQuery[name, default: []].append(value)
        }
        let now = WallClock.nowMs()
        var object: [String: Any] = [
            "type": "REQUEST",
            "methodArn": "arn:aws:execute-api:local:000000000000:\(settings.apiId)/\(settings.stage)/$connect",
            "headers": headers, "multiValueHeaders": multi, "stageVariables": [String: String](),
            "requestContext": [
                "routeKey": "$connect", "eventType": "CONNECT", "extendedRequestId": requestId.description,
                "requestTime": TimeFormat.clf(now), "messageDirection": "IN", "stage": settings.stage,
                "connectedAt": connection.connectedAtMs, "requestTimeEpoch": now,
                "identity": ["sourceIp": connection.sourceIp], "requestId": requestId.description,
                "domainName": connection.domainName, "connectionId": connection.connectionId.description,
                "apiId": settings.apiId,
            ] as [String: Any],
        ]
        if !query.isEmpty {
            object["queryStringParameters"] = query
            object["multiValueQueryStringParameters"] = multiQuery
        }
        return Array((try? JSONSerialization.data(withJSONObject: object)) ?? Data("{}".utf8))
    }

    /// Reads the authorizer's answer.
    static func decision(status: Int, body: [UInt8]) -> AuthorizerDecision {
        if status == 401 { return .deny(status: 401) }
        guard (200..<300).contains(status),
              let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            if String(decoding: body, as: UTF8.self).contains("Unauthorized") { return .deny(status: 401) }
            return .deny(status: 500)
        }
        let context = object["context"] as? [String: Any] ?? [:]
        let allowed: Bool
        if let simple = object["isAuthorized"] as? Bool {
            allowed = simple
        } else if let policy = object["policyDocument"] as? [String: Any],
                  let statements = policy["Statement"] as? [[String: Any]] {
            let effects = statements.compactMap { $0["Effect"] as? String }
            allowed = effects.contains("Allow") && !effects.contains("Deny")
        } else {
            return .deny(status: 500)
        }
        guard allowed else { return .deny(status: 403) }
        var authorizer = context
        authorizer["principalId"] = object["principalId"] as? String ?? ""
        let data = (try? JSONSerialization.data(withJSONObject: authorizer, options: [.sortedKeys])) ?? Data("{}".utf8)
        return .allow(contextJSON: String(decoding: data, as: UTF8.self))
    }
}

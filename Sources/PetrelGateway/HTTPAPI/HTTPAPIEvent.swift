import Foundation
import PetrelCodecs
import PetrelCore
import PetrelCrypto

/// API Gateway's HTTP API event, payload format version 2.0 (DESIGN §8), built as JSON text for
/// `type: http` integrations on HTTP routes; `HTTPAPIEvent.authorizerInput` is the 2.0 REQUEST
/// authorizer input. Field rules as API Gateway's:
/// - header names lowercased; repeated headers and query values joined with commas (no
///   `multiValue*` fields); `Cookie` moves to `cookies[]`;
/// - `rawPath` and `requestContext.http.path` are the path as received (a stage prefix stays);
/// - `queryStringParameters` and `pathParameters` are decoded and omitted when empty;
/// - the body is text when it is UTF-8 and its content type is textual, else base64.
struct HTTPAPIEvent {
    let head: HTTPRequestHead
    let body: [UInt8]
    let routeKey: String
    let pathParameters: [(name: String, value: String)]
    let requestId: RequestID
    let timeMs: Int64
    let stage: String
    let apiId: String
    let sourceIp: String
    let authorizerJSON: String?
    let stageVariablesJSON: String?
    /// mTLS: `requestContext.authentication.clientCert`, as API Gateway's HTTP APIs pass it.
    var clientCertJSON: String? = nil

    func json() -> [UInt8] {
        var out = "{\"version\":\"2.0\","
        field("routeKey", routeKey, &out)
        common(&out)
        if !body.isEmpty {
            if Self.isText(body, contentType: head.headers.first("Content-Type")) {
                out += "\"body\":"
                JSONText.appendString(String(decoding: body, as: UTF8.self), to: &out)
                out += ",\"isBase64Encoded\":false,"
            } else {
                out += "\"body\":\"\(Base64.encode(body))\",\"isBase64Encoded\":true,"
            }
        } else {
            out += "\"isBase64Encoded\":false,"
        }
        out.removeLast()
        out += "}"
        return Array(out.utf8)
    }

    /// The REQUEST authorizer input (payload format 2.0) with the identity values it used.
    func authorizerInput(identity: [String], routeArnMethod: String) -> [UInt8] {
        var out = "{\"version\":\"2.0\",\"type\":\"REQUEST\","
        let arnPath = head.path.hasPrefix("/") ? String(head.path.dropFirst()) : head.path
        field("routeArn", "arn:aws:execute-api:local:000000000000:\(apiId)/\(stage)/\(routeArnMethod)/\(arnPath)", &out)
        out += "\"identitySource\":[" + identity.map(JSONText.quoted).joined(separator: ",") + "],"
        field("routeKey", routeKey, &out)
        common(&out)
        out.removeLast()
        out += "}"
        return Array(out.utf8)
    }

    /// Everything the event and the authorizer input share, each member followed by a comma.
    private func common(_ out: inout String) {
        field("rawPath", head.path, &out)
        field("rawQueryString", head.query ?? "", &out)
        var cookies: [String] = []
        var order: [String] = []
        var values: [String: String] = [:]
        var userAgent = ""
        var host = ""
        for (name, value) in head.headers.entries {
            let lower = name.lowercased()
            if lower == "cookie" {
                for cookie in value.split(separator: ";") {
                    let trimmed = cookie.trimmingCharacters()
                    if !trimmed.isEmpty { cookies.append(trimmed) }
                }
                continue
            }
            if lower == "user-agent" { userAgent = value }
            if lower == "host" { host = value }
            if let existing = values[lower] {
                values[lower] = existing + "," + value
            } else {
                order.append(lower)
                values[lower] = value
            }
        }
        if !cookies.isEmpty {
            out += "\"cookies\":[" + cookies.map(JSONText.quoted).joined(separator: ",") + "],"
        }
        out += "\"headers\":{" + order.map { "\(JSONText.quoted($0)):\(JSONText.quoted(values[$0]!))" }.joined(separator: ",") + "},"
        let query = PercentDecoding.queryPairs(head.query)
        if !query.isEmpty {
            var queryOrder: [String] = []
            var queryValues: [String: String] = [:]
            for (name, value) in query {
                if let existing = queryValues[name] {
                    queryValues[name] = existing + "," + value
                } else {
                    queryOrder.append(name)
                    queryValues[name] = value
                }
            }
            out += "\"queryStringParameters\":{"
                + queryOrder.map { "\(JSONText.quoted($0)):\(JSONText.quoted(queryValues[$0]!))" }.joined(separator: ",") + "},"
        }
        let domain = Connection.hostWithoutPort(host)
        out += "\"requestContext\":{"
        field("accountId", "000000000000", &out)
        field("apiId", apiId, &out)
        if let clientCertJSON { out += "\"authentication\":{\"clientCert\":\(clientCertJSON)}," }
        if let authorizerJSON { out += "\"authorizer\":\(authorizerJSON)," }
        field("domainName", domain, &out)
        field("domainPrefix", String(domain.split(separator: ".", maxSplits: 1).first ?? ""), &out)
        out += "\"http\":{"
        field("method", head.method, &out)
        field("path", head.path, &out)
        field("protocol", head.versionMinor == 0 ? "HTTP/1.0" : "HTTP/1.1", &out)
        field("sourceIp", sourceIp, &out)
        out += "\"userAgent\":"
        JSONText.appendString(userAgent, to: &out)
        out += "},"
        field("requestId", requestId.description, &out)
        field("routeKey", routeKey, &out)
        field("stage", stage, &out)
        field("time", TimeFormat.clf(timeMs), &out)
        out += "\"timeEpoch\":\(timeMs)},"
        if let stageVariablesJSON { out += "\"stageVariables\":\(stageVariablesJSON)," }
        if !pathParameters.isEmpty {
            out += "\"pathParameters\":{" + pathParameters.map {
                "\(JSONText.quoted($0.name)):\(JSONText.quoted(PercentDecoding.decode($0.value[...]) ?? $0.value))"
            }.joined(separator: ",") + "},"
        }
    }

    private func field(_ name: String, _ value: String, _ out: inout String) {
        out += "\"\(name)\":"
        JSONText.appendString(value, to: &out)
        out += ","
    }

    /// Text bodies go as they are; anything else base64 (API Gateway's rule for payload 2.0 is
    /// by content type; a body that is not UTF-8 can only travel as base64).
    static func isText(_ body: [UInt8], contentType: String?) -> Bool {
        guard String(validating: body, as: UTF8.self) != nil else { return false }
        guard let type = contentType?.lowercased() else { return true }
        return type.hasPrefix("text/") || type.contains("json") || type.contains("xml") || type.contains("javascript")
            || type.contains("x-www-form-urlencoded") || type.contains("yaml") || type.contains("graphql")
    }
}

/// Reads a backend's answer to a payload 2.0 event as API Gateway reads a Lambda's (facts §3.3,
/// "Lambda proxy response v2.0"): a JSON object with `statusCode` is a proxy response
/// (`headers`, `cookies[]` as `set-cookie`, `body`, `isBase64Encoded`); other valid JSON is the
/// body of a 200 with `content-type: application/json`; anything else passes through with the
/// backend's status and content type. A 5xx that is not a proxy response is a failed call.
enum HTTPAPIResponse {
    static func read(status: Int, headers: [(String, String)], body: [UInt8]) -> HTTPResponse? {
        let first = body.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }
        let json = first.flatMap { _ in JSONValue.parse(body) }
        if let json, case .object = json, case .number(let code, _)? = json["statusCode"] {
            var response = HTTPResponse(status: Int(code))
            if case .object(let members)? = json["headers"] {
                for (name, value) in members {
                    switch value {
                    case .string(let s): response.headers.append((name, s))
                    case .null: continue
                    case .number(_, let lexeme): response.headers.append((name, lexeme))
                    case .bool(let b): response.headers.append((name, b ? "true" : "false"))
                    default: response.headers.append((name, value.text))
                    }
                }
            }
            if case .array(let cookies)? = json["cookies"] {
                for case .string(let cookie) in cookies { response.headers.append(("set-cookie", cookie)) }
            }
            switch json["body"] {
            case .string(let text)?:
                if case .bool(true)? = json["isBase64Encoded"] {
                    guard let decoded = Data(base64Encoded: text).map(Array.init) else { return nil }
                    response.body = decoded
                } else {
                    response.body = Array(text.utf8)
                }
            case nil, .null?:
                break
            case let other?:
                response.body = Array(other.text.utf8)
            }
            if !response.headers.contains(where: { $0.0.lowercased() == "content-type" }) && !response.body.isEmpty {
                response.headers.append(("content-type", "application/json"))
            }
            return response
        }
        if status >= 500 { return nil }
        if json != nil && (200..<300).contains(status) {
            return HTTPResponse(status: 200, headers: [("content-type", "application/json")], body: body)
        }
        var passed: [(String, String)] = []
        if let type = headers.first(where: { $0.0.lowercased() == "content-type" }) { passed.append(("content-type", type.1)) }
        return HTTPResponse(status: status, headers: passed, body: body)
    }
}

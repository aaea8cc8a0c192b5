import PetrelCore
import PetrelCrypto

/// API Gateway's Lambda proxy event for WebSocket APIs, field for field (DESIGN §5; captures in
/// the reference, §1.6), built as JSON text for `type: http` integrations.
enum ProxyEvent {
    static func json(_ event: borrowing IntegrationEvent) -> [UInt8] {
        var out = "{"
        switch event.type {
        case .connect:
            if let request = event.connectRequest {
                appendHeaders(request.headers, to: &out)
                let query = PercentDecoding.queryPairs(request.rawQuery)
                if !query.isEmpty {
                    appendMaps(query, single: "queryStringParameters", multi: "multiValueQueryStringParameters", to: &out)
                }
            }
        case .disconnect:
            // API Gateway sends a small synthetic header set on DISCONNECT.
            let host = event.connection.domainName
            appendHeaders([("Host", host), ("x-api-key", ""), ("X-Forwarded-For", ""), ("x-restapi", "")], to: &out)
        case .message:
            break
        }
        out += "\"requestContext\":{"
        field("routeKey", event.routeKey, &out)
        if event.type == .message, let messageId = event.messageId {
            field("messageId", messageId.description, &out)
        } else if event.type == .connect {
            out += "\"messageId\":null,"
        }
        field("eventType", event.type.rawValue, &out)
        field("extendedRequestId", event.requestId.description, &out)
        field("requestTime", TimeFormat.clf(event.requestTimeMs), &out)
        field("messageDirection", "IN", &out)
        field("stage", event.stage, &out)
        out += "\"connectedAt\":\(event.connection.connectedAtMs),\"requestTimeEpoch\":\(event.requestTimeMs),"
        out += "\"identity\":{\"sourceIp\":\(JSONText.quoted(event.connection.sourceIp)),\"userAgent\":"
        let userAgent = event.connection.userAgent
        out += userAgent.isEmpty ? "null" : JSONText.quoted(userAgent)
        if let clientCert = event.connection.clientCertJSON {
            out += ",\"clientCert\":\(clientCert)"
        }
        out += "},"
        field("requestId", event.requestId.description, &out)
        field("domainName", event.connection.domainName, &out)
        field("connectionId", event.connection.connectionId.description, &out)
        if let authorizer = event.connection.authorizerJSON {
            out += "\"authorizer\":\(authorizer),"
        }
        switch event.type {
        case .disconnect:
            out += "\"disconnectStatusCode\":\(event.disconnectStatusCode ?? 1006),"
            field("disconnectReason", event.disconnectReason ?? "", &out)
        case .connect:
            out += "\"disconnectStatusCode\":null,\"disconnectReason\":null,"
        case .message:
            break
        }
        out += "\"apiId\":\(JSONText.quoted(event.apiId))},"
        if event.type == .message {
            if event.isBinary {
                out += "\"body\":\"\(Base64.encode(Array(event.body)))\",\"isBase64Encoded\":true}"
            } else {
                out += "\"body\":"
                JSONText.appendString(String(decoding: event.body, as: UTF8.self), to: &out)
                out += ",\"isBase64Encoded\":false}"
            }
        } else {
            out += "\"isBase64Encoded\":false}"
        }
        return Array(out.utf8)
    }

    private static func field(_ name: String, _ value: String, _ out: inout String) {
        out += "\"\(name)\":"
        JSONText.appendString(value, to: &out)
        out += ","
    }

    private static func appendHeaders(_ headers: [(name: String, value: String)], to out: inout String) {
        appendMaps(headers.map { ($0.name, $0.value) }, single: "headers", multi: "multiValueHeaders", to: &out)
    }

    /// `headers`/`multiValueHeaders` style: the last value per name, and every value in order.
    private static func appendMaps(_ pairs: [(String, String)], single: String, multi: String, to out: inout String) {
        var order: [String] = []
        var values: [String: [String]] = [:]
        for (name, value) in pairs {
            if values[name] == nil { order.append(name) }
            values[name, default: []].append(value)
        }
        out += "\"\(single)\":{"
        out += order.map { "\(JSONText.quoted($0)):\(JSONText.quoted(values[$0]!.last!))" }.joined(separator: ",")
        out += "},\"\(multi)\":{"
        out += order.map { name in "\(JSONText.quoted(name)):[\(values[name]!.map(JSONText.quoted).joined(separator: ","))]" }
            .joined(separator: ",")
        out += "},"
    }
}

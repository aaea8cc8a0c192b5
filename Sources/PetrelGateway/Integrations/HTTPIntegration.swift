import PetrelCore
import PetrelHTTPClient

/// `type: http`: POSTs each CONNECT/MESSAGE/DISCONNECT event as API Gateway's proxy event JSON to
/// `url` through the loop's shared libcurl client (keep-alive pooled), and reads the answer as a
/// proxy response (DESIGN §5).
final class HTTPIntegration: Integration {
    let url: String
    let timeoutMs: Int64
    /// The integration's `headers`, sent with every event.
    let headers: [(String, String)]

    init(url: String, timeoutMs: Int64, headers: [(String, String)] = []) {
        self.url = url
        self.timeoutMs = timeoutMs
        self.headers = headers
    }

    func invoke(_ event: borrowing IntegrationEvent, services: any IntegrationServices,
                completion: IntegrationCompletion) -> IntegrationReply {
        guard let worker = services as? Worker, !worker.shutDown else { return .failure(.unreachable) }
        let request = HTTPClientRequest(method: "POST", url: url,
                                        headers: [("Content-Type", "application/json")] + worker.traceHeaders(for: event.connection) + headers,
                                        body: ProxyEvent.json(event), timeoutMs: timeoutMs)
        worker.httpClient.send(request) { result in
            switch result {
            case .success(let response):
                completion(ProxyResponse.reply(httpStatus: response.status, body: response.body))
            case .failure(.timeout):
                completion(.failure(.timeout))
            case .failure(.connectFailed):
                completion(.failure(.unreachable))
            case .failure:
                completion(.failure(.badResponse))
            }
        }
        return .pending
    }
}

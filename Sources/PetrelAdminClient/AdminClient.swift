import Dispatch
import Glibc
import PetrelCrypto
import PetrelHTTPClient
import PetrelLoop

/// How `petrel admin` proves itself to the admin listener (DESIGN §6).
public enum AdminCredentials: Sendable {
    /// Loopback admin listener without `admin.auth`.
    case none
    case bearer(String)
    case sigv4(SigV4Signer)
}

public enum AdminClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not an `http://` or `https://` URL with a host.
    case badURL(String)
    /// No answer at all: connect refused, timeout, TLS.
    case unreachable(String)
    /// The server answered with a status of 300 or more.
    case refused(status: Int, errorType: String?, message: String)

    public var description: String {
        switch self {
        case .badURL(let url): return "--admin: expected http://HOST:PORT[/STAGE], got \(url)"
        case .unreachable(let why): return why
        case .refused(let status, let type, let message):
            return "\(status)" + (type.map { " \($0)" } ?? "") + (message.isEmpty ? "" : ": \(message)")
        }
    }
}

/// The admin API over HTTP, one blocking call at a time: each call runs the project's libcurl
/// client on a loop thread of its own, which ends with the call. For tools, not for the gateway.
public struct AdminClient: Sendable {
    /// `http://HOST:PORT`, the `Host` header (signed by SigV4) and the path prefix (a stage).
    public let origin: String
    public let host: String
    public let basePath: String
    public let credentials: AdminCredentials
    public let timeoutMs: Int64

    public init(url: String, credentials: AdminCredentials, timeoutMs: Int64 = 10_000) throws(AdminClientError) {
        guard let scheme = ["http://", "https://"].first(where: { url.hasPrefix($0) }) else { throw .badURL(url) }
        let rest = url.dropFirst(scheme.count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = String(rest[..<slash])
        guard !authority.isEmpty, !authority.contains("@") else { throw .badURL(url) }
        var path = String(rest[slash...])
        while path.hasSuffix("/") { path.removeLast() }
        origin = scheme + authority
        host = authority
        basePath = path
        self.credentials = credentials
        self.timeoutMs = timeoutMs
    }

    /// One request; `path` starts with `/` and is already percent-encoded. A status of 300 or
    /// more is `.refused` with the `x-amzn-ErrorType` and `{"message": ...}` the API sends.
    public func send(_ method: String, _ path: String, query: String? = nil, body: [UInt8] = []) throws(AdminClientError) -> HTTPClientResponse {
        let rawPath = basePath + path
        var headers: [(String, String)] = [("Host", host)]
        switch credentials {
        case .none: break
        case .bearer(let token): headers.append(("Authorization", "Bearer \(token)"))
        case .sigv4(let signer):
            let signed = signer.sign(method: method, rawPath: rawPath, rawQuery: query, host: host, body: body,
                                     epochSeconds: Int64(time(nil)))
            headers += signed.headers.map { ($0.name, $0.value) }
        }
        if !body.isEmpty { headers.append(("Content-Type", "application/octet-stream")) }
        let url = origin + rawPath + (query.map { "?" + $0 } ?? "")
        let request = HTTPClientRequest(method: method, url: url, headers: headers, body: body, timeoutMs: timeoutMs)
        let response: HTTPClientResponse
        switch Self.perform(request) {
        case .success(let r): response = r
        case .failure(let error): throw .unreachable("cannot reach \(origin): \(Self.describe(error))")
        }
        guard response.status < 300 else {
            throw .refused(status: response.status, errorType: response.header("x-amzn-ErrorType"),
                           message: AdminMessage.text(of: response.body))
        }
        return response
    }

    /// Runs the request on a fresh loop thread and waits for its end.
    private static func perform(_ request: HTTPClientRequest) -> Result<HTTPClientResponse, HTTPClientError> {
        let outcome = Outcome()
        let (thread, _) = LoopThread.start(index: 0) { loop in
            let client = HTTPClient(loop: loop)
            loop.owner = client
            client.send(request) { result in
                outcome.result = result
                // Closed on a later turn: never close the client inside its own callback.
                _ = loop.mailbox.post { loop in
                    (loop.owner as? HTTPClient)?.close()
                    loop.closeMailbox()
                }
            }
        }
        thread.join()
        return outcome.result ?? .failure(.cancelled)
    }

    private static func describe(_ error: HTTPClientError) -> String {
        switch error {
        case .timeout: return "timed out"
        case .connectFailed(let why), .tls(let why), .other(let why): return why
        case .responseTooLarge: return "response too large"
        }
    }
}

/// Written on the loop thread before it ends, read after the join.
private final class Outcome: @unchecked Sendable {
    var result: Result<HTTPClientResponse, HTTPClientError>?
}

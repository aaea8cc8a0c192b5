import Foundation

/// Requests signed by the installed botocore/boto3 (real `apigatewaymanagementapi` calls through
/// a `before-send` hook, plus `SigV4Auth` directly for query strings and extra signed headers),
/// at a fixed time, as they would appear on the wire.
struct SigV4Vector: Sendable {
    let name: String
    let method: String
    let path: String
    let query: String?
    let headers: [(name: String, value: String)]
    let body: [UInt8]
}

struct SigV4VectorSet: Sendable {
    let accessKeyId: String
    let secret: String
    let now: Int64
    let vectors: [SigV4Vector]

    func vector(_ name: String) -> SigV4Vector { vectors.first { $0.name == name }! }

    /// Generated once per test process.
    static let shared: Result<SigV4VectorSet, VectorError> = generate()

    enum VectorError: Error { case python(String) }

    static func generate() -> Result<SigV4VectorSet, VectorError> {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return .failure(.python("\(error)")) }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let akid = root["accessKeyId"] as? String, let secret = root["secret"] as? String,
              let now = root["now"] as? Int, let list = root["vectors"] as? [[String: Any]]
        else { return .failure(.python(String(decoding: data, as: UTF8.self))) }
        let vectors = list.map { v in
            SigV4Vector(
                name: v["name"] as! String, method: v["method"] as! String, path: v["path"] as! String,
                query: v["query"] as? String,
                headers: (v["headers"] as! [[String]]).map { (name: $0[0], value: $0[1]) },
                body: hexBytes(v["body"] as! String))
        }
        return .success(SigV4VectorSet(accessKeyId: akid, secret: secret, now: Int64(now), vectors: vectors))
    }

    private static func hexBytes(_ hex: String) -> [UInt8] {
        let digits = Array(hex.utf8)
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
    }

    static let script = #"""
import datetime, json
from urllib.parse import urlsplit
import boto3, botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.credentials import Credentials

FIXED = datetime.datetime(2026, 1, 15, 12, 30, 45)
botocore.auth.get_current_datetime = lambda remove_tzinfo=True: FIXED
AKID, SECRET = "AKIDPETRELTEST", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

def wire(name, request):
    parts = urlsplit(request.url)
    headers = [[k, v if isinstance(v, str) else v.decode()] for k, v in request.headers.items()]
    headers.append(["Host", parts.netloc])  # what the HTTP client adds on the wire
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    return {"name": name, "method": request.method, "path": parts.path, "query": parts.query or None,
            "headers": headers, "body": body.hex()}

class Raw:
    def stream(self, **kw):
        yield b"{}"

vectors = []
def boto_calls(name, endpoint, connection_id, token=None):
    session = boto3.session.Session(aws_access_key_id=AKID, aws_secret_access_key=SECRET,
                                    aws_session_token=token, region_name="eu-west-1")
    client = session.client("apigatewaymanagementapi", endpoint_url=endpoint)
    def before_send(request, **kw):
        vectors.append(wire(name + ":" + request.method, request))
        return AWSResponse(request.url, 200, {}, Raw())
    client.meta.events.register("before-send", before_send)
    client.post_to_connection(ConnectionId=connection_id, Data=bytes(range(256)) + b"\x00tail")
    client.get_connection(ConnectionId=connection_id)
    client.delete_connection(ConnectionId=connection_id)

boto_calls("stage", "http://127.0.0.1:9090/prod", "AAAA=")
boto_calls("nostage", "http://127.0.0.1:9090", "a/b+c=")
boto_calls("https", "https://gw.example.com/v1", "R0oXAdfD0kwCH6w=")
boto_calls("token", "http://localhost:9090/prod", "AAAA=", token="FQoGZXIvYXdzEXAMPLETOKEN//+=")

def raw_sign(name, method, url, body=b"", headers=None):
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    SigV4Auth(Credentials(AKID, SECRET), "execute-api", "us-east-1").add_auth(request)
    vectors.append(wire(name, request.prepare()))

raw_sign("query", "DELETE", "http://127.0.0.1:9090/prod/@connections/ID%3D?reason=going%20away&code=4000")
raw_sign("query-repeated", "GET", "http://127.0.0.1:9090/@connections?b=2&a=3&a=1&empty=")
raw_sign("content-sha256", "POST", "http://127.0.0.1:9090/prod/@connections/ID%3D", b"hello",
         {"X-Amz-Content-SHA256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
          "Content-Type": "text/plain;  charset=utf-8 "})

print(json.dumps({"accessKeyId": AKID, "secret": SECRET,
                  "now": int(FIXED.replace(tzinfo=datetime.timezone.utc).timestamp()), "vectors": vectors}))
"""#
}

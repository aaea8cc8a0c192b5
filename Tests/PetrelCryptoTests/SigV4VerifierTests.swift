@testable import PetrelCrypto
import Testing

@Suite("SigV4 verification against botocore-signed requests")
struct SigV4VerifierTests {
    static let names = [
        "stage:POST", "stage:GET", "stage:DELETE",
        "nostage:POST", "nostage:GET", "nostage:DELETE",
        "https:POST", "https:GET", "https:DELETE",
        "token:POST", "token:GET", "token:DELETE",
        "query", "query-repeated", "content-sha256",
    ]

    func vectors() throws -> SigV4VectorSet { try SigV4VectorSet.shared.get() }

    func verifier(_ set: SigV4VectorSet, secret: String? = nil, accessKeyId: String? = nil) -> SigV4Verifier {
        SigV4Verifier(credentials: [
            SigV4Credentials(accessKeyId: "AKIDOTHER", secretAccessKey: "other"),
            SigV4Credentials(accessKeyId: accessKeyId ?? set.accessKeyId, secretAccessKey: secret ?? set.secret),
        ])
    }

    func verify(_ v: SigV4Vector, with verifier: SigV4Verifier, now: Int64,
                method: String? = nil, path: String? = nil, query: String?? = nil,
                headers: [(name: String, value: String)]? = nil, body: [UInt8]? = nil) -> Result<String, SigV4Failure> {
        verifier.verify(method: method ?? v.method, rawPath: path ?? v.path, rawQuery: query ?? v.query,
                        headers: headers ?? v.headers, body: body ?? v.body, nowEpochSeconds: now)
    }

    @Test("every botocore-signed request verifies", arguments: names)
    func accepted(name: String) throws {
        let set = try vectors()
        #expect(verify(set.vector(name), with: verifier(set), now: set.now) == .success(set.accessKeyId))
    }

    @Test("header names in any case are accepted")
    func headerCase() throws {
        let set = try vectors()
        let v = set.vector("token:POST")
        let upper = v.headers.map { (name: $0.name.uppercased(), value: $0.value) }
        #expect(verify(v, with: verifier(set), now: set.now, headers: upper) == .success(set.accessKeyId))
    }

    @Test("a wrong secret is a bad signature", arguments: ["stage:POST", "query"])
    func wrongSecret(name: String) throws {
        let set = try vectors()
        #expect(verify(set.vector(name), with: verifier(set, secret: set.secret + "x"), now: set.now) == .failure(.badSignature))
    }

    @Test("an unknown access key is refused before the signature is checked")
    func unknownKey() throws {
        let set = try vectors()
        #expect(verify(set.vector("stage:GET"), with: verifier(set, accessKeyId: "AKIDNOTTHIS"), now: set.now) == .failure(.unknownKey))
    }

    @Test("X-Amz-Date more than five minutes away is expired; within is fine",
          arguments: [(-301, false), (301, false), (-300, true), (300, true), (3600, false)])
    func clockSkew(offset: Int64, accepted: Bool) throws {
        let set = try vectors()
        let result = verify(set.vector("stage:DELETE"), with: verifier(set), now: set.now + offset)
        #expect(result == (accepted ? .success(set.accessKeyId) : .failure(.expired)))
    }

    @Test("a tampered body is a bad signature")
    func tamperedBody() throws {
        let set = try vectors()
        let v = set.vector("stage:POST")
        var body = v.body
        body[0] ^= 1
        #expect(verify(v, with: verifier(set), now: set.now, body: body) == .failure(.badSignature))
        #expect(verify(v, with: verifier(set), now: set.now, body: v.body + [0]) == .failure(.badSignature))
    }

    @Test("a tampered path, method or query is a bad signature")
    func tamperedRequestLine() throws {
        let set = try vectors()
        let v = set.vector("stage:DELETE")
        let verifier = verifier(set)
        #expect(verify(v, with: verifier, now: set.now, path: "/prod/@connections/AAAB%3D") == .failure(.badSignature))
        // Decoded on the wire is a different path from what was signed.
        #expect(verify(v, with: verifier, now: set.now, path: "/prod/@connections/AAAA=") == .failure(.badSignature))
        #expect(verify(v, with: verifier, now: set.now, path: "/@connections/AAAA%3D") == .failure(.badSignature))
        #expect(verify(v, with: verifier, now: set.now, method: "GET") == .failure(.badSignature))
        #expect(verify(v, with: verifier, now: set.now, query: "code=4000") == .failure(.badSignature))
        let q = set.vector("query")
        #expect(verify(q, with: verifier, now: set.now, query: "reason=going%20away&code=4001") == .failure(.badSignature))
    }

    @Test("query parameters are order-independent")
    func queryOrder() throws {
        let set = try vectors()
        let q = set.vector("query-repeated")
        #expect(verify(q, with: verifier(set), now: set.now, query: "empty=&a=1&b=2&a=3") == .success(set.accessKeyId))
        #expect(verify(q, with: verifier(set), now: set.now, query: "empty&a=1&b=2&a=3") == .success(set.accessKeyId))
    }

    @Test("a tampered signed header is a bad signature")
    func tamperedHeader() throws {
        let set = try vectors()
        let v = set.vector("token:GET")
        func replacing(_ name: String, with value: String) -> [(name: String, value: String)] {
            v.headers.map { $0.name.lowercased() == name ? (name: $0.name, value: value) : $0 }
        }
        #expect(verify(v, with: verifier(set), now: set.now, headers: replacing("host", with: "localhost:9091")) == .failure(.badSignature))
        #expect(verify(v, with: verifier(set), now: set.now, headers: replacing("x-amz-security-token", with: "other")) == .failure(.badSignature))
        // Unsigned headers may change.
        #expect(verify(v, with: verifier(set), now: set.now, headers: replacing("user-agent", with: "curl")) == .success(set.accessKeyId))
    }

    @Test("signed header values are compared after trimming and collapsing spaces")
    func headerWhitespace() throws {
        let set = try vectors()
        let v = set.vector("content-sha256")
        let respaced = v.headers.map { $0.name == "Content-Type" ? (name: $0.name, value: "  text/plain; \t charset=utf-8") : $0 }
        #expect(verify(v, with: verifier(set), now: set.now, headers: respaced) == .success(set.accessKeyId))
    }

    @Test("X-Amz-Content-Sha256 must match the body")
    func contentHashMismatch() throws {
        let set = try vectors()
        let v = set.vector("content-sha256")
        #expect(verify(v, with: verifier(set), now: set.now, body: Array("hellO".utf8)) == .failure(.badSignature))
        let unsigned = v.headers.map { $0.name == "X-Amz-Content-SHA256" ? (name: $0.name, value: "UNSIGNED-PAYLOAD") : $0 }
        guard case .failure(.malformed) = verify(v, with: verifier(set), now: set.now, headers: unsigned) else {
            Issue.record("UNSIGNED-PAYLOAD must be refused")
            return
        }
    }

    @Test("no Authorization header is .missing")
    func missing() throws {
        let set = try vectors()
        let v = set.vector("stage:GET")
        let stripped = v.headers.filter { $0.name.lowercased() != "authorization" }
        #expect(verify(v, with: verifier(set), now: set.now, headers: stripped) == .failure(.missing))
    }

    @Test("malformed Authorization and scope problems", arguments: [
        "Bearer abc",
        "AWS4-HMAC-SHA256 Credential=AKIDPETRELTEST/20260115/eu-west-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date",
        "AWS4-HMAC-SHA256 Credential=AKIDPETRELTEST/20260115/eu-west-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + String(repeating: "a", count: 64),
        "AWS4-HMAC-SHA256 Credential=AKIDPETRELTEST/20260116/eu-west-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + String(repeating: "a", count: 64),
        "AWS4-HMAC-SHA256 Credential=AKIDPETRELTEST/20260115/eu-west-1/execute-api/aws4_request, SignedHeaders=x-amz-date, Signature=" + String(repeating: "a", count: 64),
        "AWS4-HMAC-SHA256 Credential=AKIDPETRELTEST/20260115/eu-west-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=ABC",
        "AWS4-HMAC-SHA256 Credential=AKIDPETRELTEST/20260115/eu-west-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date;x-missing, Signature=" + String(repeating: "a", count: 64),
        "AWS4-HMAC-SHA256 Credential=AKIDPETRELTEST/20260115/eu-west-1/execute-api, SignedHeaders=host;x-amz-date, Signature=" + String(repeating: "a", count: 64),
    ])
    func malformed(authorization: String) throws {
        let set = try vectors()
        let v = set.vector("stage:GET")
        let headers = v.headers.map { $0.name.lowercased() == "authorization" ? (name: $0.name, value: authorization) : $0 }
        let result = verify(v, with: verifier(set), now: set.now, headers: headers)
        guard case .failure(.malformed) = result else {
            Issue.record("expected .malformed, got \(result)")
            return
        }
    }

    @Test("a missing or garbled X-Amz-Date is malformed", arguments: [nil, "2026-01-15T12:30:45Z", "20261315T123045Z"])
    func badDate(date: String?) throws {
        let set = try vectors()
        let v = set.vector("stage:GET")
        var headers = v.headers.filter { $0.name.lowercased() != "x-amz-date" }
        if let date { headers.append((name: "X-Amz-Date", value: date)) }
        guard case .failure(.malformed) = verify(v, with: verifier(set), now: set.now, headers: headers) else {
            Issue.record("expected .malformed")
            return
        }
    }
}

@Suite("SigV4 canonical forms")
struct SigV4CanonicalTests {
    @Test("the canonical URI encodes each raw segment once more", arguments: [
        ("/prod/@connections/AAAA%3D", "/prod/%40connections/AAAA%253D"),
        ("/prod/%40connections/a%2Fb%2Bc%3D", "/prod/%2540connections/a%252Fb%252Bc%253D"),
        ("", "/"),
        ("/", "/"),
        ("/a//b/./c/../d/", "/a/b/d/"),
        ("/~user/a b", "/~user/a%20b"),
    ])
    func canonicalURI(raw: String, canonical: String) {
        #expect(SigV4Canonical.uri(raw) == canonical)
    }

    @Test("the canonical query sorts by encoded key then value and encodes strictly")
    func canonicalQuery() {
        #expect(SigV4Canonical.query("b=2&a=3&a=1&empty=") == "a=1&a=3&b=2&empty=")
        #expect(SigV4Canonical.query("reason=going%20away&code=4000") == "code=4000&reason=going%20away")
        #expect(SigV4Canonical.query("k=a+b&x=%7e") == "k=a%2Bb&x=~")
        #expect(SigV4Canonical.query(nil) == "")
    }

    @Test("header values are trimmed and inner whitespace collapsed")
    func trimAll() {
        #expect(SigV4Canonical.trimAll("  a   b\t c  ") == "a b c")
        #expect(SigV4Canonical.trimAll("") == "")
    }

    @Test("X-Amz-Date parses to epoch seconds")
    func amzDate() {
        #expect(SigV4Date.epochSeconds("20260115T123045Z") == 1_768_480_245)
        #expect(SigV4Date.epochSeconds("19700101T000000Z") == 0)
        #expect(SigV4Date.epochSeconds("20240229T235959Z") == 1_709_251_199)
        #expect(SigV4Date.epochSeconds("20260115T123045") == nil)
    }

    @Test("AWS's documented get-vanilla example verifies")
    func awsGetVanilla() {
        // AWS SigV4 test suite, "get-vanilla".
        let verifier = SigV4Verifier(credentials: [SigV4Credentials(accessKeyId: "AKIDEXAMPLE",
                                                                    secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")],
                                     service: "service")
        let result = verifier.verify(method: "GET", rawPath: "/", rawQuery: nil, headers: [
            (name: "Host", value: "example.amazonaws.com"),
            (name: "X-Amz-Date", value: "20150830T123600Z"),
            (name: "Authorization", value: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        ], body: [], nowEpochSeconds: 1_440_938_160)
        #expect(result == .success("AKIDEXAMPLE"))
    }
}

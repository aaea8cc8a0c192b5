@testable import PetrelCrypto
import Testing

@Suite("SigV4 signing: botocore's signatures reproduced, and accepted by the verifier")
struct SigV4SignerTests {
    func vectors() throws -> SigV4VectorSet { try SigV4VectorSet.shared.get() }

    /// The value of `name` (any case) in `headers`.
    func header(_ headers: [(name: String, value: String)], _ name: String) -> String? {
        headers.first { $0.name.lowercased() == name }?.value
    }

    @Test("every botocore-signed request gets the same Authorization", arguments: SigV4VerifierTests.names)
    func sameAsBotocore(name: String) throws {
        let set = try vectors()
        let v = set.vector(name)
        let authorization = try #require(header(v.headers, "authorization"))
        let parsed = try SigV4Authorization.parse(authorization).get()
        let extra = v.headers.filter { parsed.signedHeaders.contains($0.name.lowercased()) && $0.name.lowercased() != "host" }
        let signer = SigV4Signer(
            credentials: SigV4Credentials(accessKeyId: set.accessKeyId, secretAccessKey: set.secret),
            region: parsed.region, service: parsed.service)
        let signed = signer.sign(method: v.method, rawPath: v.path, rawQuery: v.query, host: try #require(header(v.headers, "host")),
                                 headers: extra, body: v.body, epochSeconds: set.now)
        #expect(signed.amzDate == header(v.headers, "x-amz-date"))
        #expect(signed.authorization == authorization)
    }

    @Test("a signed request verifies; a wrong secret or a changed body does not")
    func roundTrip() {
        let credentials = SigV4Credentials(accessKeyId: "AKIDSIGNER", secretAccessKey: "s3cret/+=")
        let verifier = SigV4Verifier(credentials: [credentials])
        let now: Int64 = 1_780_000_000
        let body = Array(#"{"t":1,"s":2}"#.utf8)
        let path = "/prod/@connections/AAAA%3D"
        func check(_ signer: SigV4Signer, body sentBody: [UInt8]) -> Result<String, SigV4Failure> {
            let signed = signer.sign(method: "POST", rawPath: path, host: "127.0.0.1:9090",
                                     headers: [(name: "Content-Type", value: "application/json")], body: body, epochSeconds: now)
            let headers = [(name: "Host", value: "127.0.0.1:9090"), (name: "Content-Type", value: "application/json")] + signed.headers
            return verifier.verify(method: "POST", rawPath: path, rawQuery: nil, headers: headers, body: sentBody, nowEpochSeconds: now)
        }
        let good = SigV4Signer(credentials: credentials, region: "eu-central-1")
        #expect(check(good, body: body) == .success("AKIDSIGNER"))
        #expect(check(good, body: body + [0x20]) == .failure(.badSignature))
        let wrong = SigV4Signer(credentials: SigV4Credentials(accessKeyId: "AKIDSIGNER", secretAccessKey: "other"), region: "eu-central-1")
        #expect(check(wrong, body: body) == .failure(.badSignature))
    }

    @Test("X-Amz-Date formatting is the inverse of parsing",
          arguments: [Int64(0), 951_782_400, 1_768_480_245, 4_102_444_799, 1_709_164_800, -1])
    func dateFormat(seconds: Int64) {
        let text = SigV4Date.format(seconds)
        #expect(text.utf8.count == 16)
        #expect(SigV4Date.epochSeconds(text) == seconds)
    }
}

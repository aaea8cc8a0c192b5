import Glibc

/// Signs requests with AWS Signature Version 4 (`AWS4-HMAC-SHA256`, header auth), as boto3 signs
/// `apigatewaymanagementapi` calls, so that `SigV4Verifier` (and AWS) accept them. Shares the
/// canonical request, string to sign and key derivation with the verifier (`SigV4Signing`).
///
///     let signer = SigV4Signer(credentials: .init(accessKeyId: "AKID", secretAccessKey: "secret"), region: "us-east-1")
///     let signed = signer.sign(method: "POST", rawPath: "/prod/@connections/AAAA%3D", host: "127.0.0.1:9090",
///                              body: Array("hello".utf8), epochSeconds: now)
///     // send signed.headers (X-Amz-Date, Authorization) with the request, and Host exactly as given.
///
/// `rawPath` is the path as it goes on the wire (percent-encodings kept); the signer encodes each
/// segment once more for the canonical URI, as AWS does for every service but S3.
public struct SigV4Signer: Sendable {
    public let accessKeyId: String
    public let region: String
    public let service: String
    private let prefixedSecret: [UInt8]

    public init(credentials: SigV4Credentials, region: String, service: String = "execute-api") {
        accessKeyId = credentials.accessKeyId
        prefixedSecret = SigV4Signing.prefixedSecret(credentials.secretAccessKey)
        self.region = region
        self.service = service
    }

    /// What to add to the request.
    public struct Signature: Sendable, Equatable {
        /// `X-Amz-Date` value, `YYYYMMDDTHHMMSSZ`.
        public var amzDate: String
        /// `Authorization` value.
        public var authorization: String
        /// The two headers to send (besides `Host` and the extra headers that were signed).
        public var headers: [(name: String, value: String)] {
            [(name: "X-Amz-Date", value: amzDate), (name: "Authorization", value: authorization)]
        }
    }

    /// Signs `host` (with its port, as sent in the `Host` header), `x-amz-date` and every header in
    /// `headers` (which must then be sent with exactly these values). `rawQuery` is the text after
    /// `?`, if any.
    public func sign(
        method: String, rawPath: String, rawQuery: String? = nil, host: String,
        headers: [(name: String, value: String)] = [], body: [UInt8], epochSeconds: Int64
    ) -> Signature {
        let amzDate = SigV4Date.format(epochSeconds)
        let date = String(amzDate.prefix(8))
        var values: [String: [String]] = ["host": [SigV4Canonical.trimAll(host)], "x-amz-date": [amzDate]]
        for header in headers {
            let name = header.name.lowercased()
            guard name != "host", name != "x-amz-date", name != "authorization" else { continue }
            values[name, default: []].append(SigV4Canonical.trimAll(header.value))
        }
        let names = values.keys.sorted()
        var canonicalHeaders = ""
        for name in names { canonicalHeaders += name + ":" + values[name]!.joined(separator: ",") + "\n" }
        let signedHeaders = names.joined(separator: ";")

        let canonicalRequest = SigV4Signing.canonicalRequest(
            method: method, rawPath: rawPath, rawQuery: rawQuery, canonicalHeaders: canonicalHeaders,
            signedHeaders: signedHeaders, payloadHash: SHA256.hex(body))
        let scope = SigV4Signing.scope(date: date, region: region, service: service)
        let key = SigV4Signing.signingKey(prefixedSecret: prefixedSecret, date: date, region: region, service: service)
        let signature = SigV4Signing.signature(signingKey: key, amzDate: amzDate, scope: scope, canonicalRequest: canonicalRequest)
        return Signature(
            amzDate: amzDate,
            authorization: "\(SigV4Verifier.algorithm) Credential=\(accessKeyId)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)")
    }
}

/// The steps of AWS SigV4 that signing and verifying share.
enum SigV4Signing {
    /// "AWS4" + secret: the first HMAC key of the derivation.
    static func prefixedSecret(_ secret: String) -> [UInt8] { Array(("AWS4" + secret).utf8) }

    /// `DATE/REGION/SERVICE/aws4_request`.
    static func scope(date: String, region: String, service: String) -> String {
        "\(date)/\(region)/\(service)/aws4_request"
    }

    /// AWS "Create a canonical request"; `canonicalHeaders` is the `name:value\n` lines, in
    /// `signedHeaders` order.
    static func canonicalRequest(
        method: String, rawPath: String, rawQuery: String?, canonicalHeaders: String, signedHeaders: String, payloadHash: String
    ) -> String {
        [method, SigV4Canonical.uri(rawPath), SigV4Canonical.query(rawQuery), canonicalHeaders, signedHeaders, payloadHash]
            .joined(separator: "\n")
    }

    static func signingKey(prefixedSecret: [UInt8], date: String, region: String, service: String) -> [UInt8] {
        var key = HMACSHA256.authenticationCode(key: prefixedSecret, message: date)
        key = HMACSHA256.authenticationCode(key: key, message: region)
        key = HMACSHA256.authenticationCode(key: key, message: service)
        return HMACSHA256.authenticationCode(key: key, message: "aws4_request")
    }

    /// Lowercase hex HMAC of the string to sign.
    static func signature(signingKey: [UInt8], amzDate: String, scope: String, canonicalRequest: String) -> String {
        let stringToSign = "\(SigV4Verifier.algorithm)\n\(amzDate)\n\(scope)\n\(SHA256.hex(canonicalRequest))"
        return Hex.lowercase(HMACSHA256.authenticationCode(key: signingKey, message: stringToSign))
    }
}

extension SigV4Date {
    /// `YYYYMMDDTHHMMSSZ` for seconds since the epoch (UTC); the inverse of `epochSeconds`.
    static func format(_ epochSeconds: Int64) -> String {
        var seconds = time_t(epochSeconds)
        var t = tm()
        gmtime_r(&seconds, &t)
        func pad(_ n: Int32, _ width: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return pad(t.tm_year + 1900, 4) + pad(t.tm_mon + 1, 2) + pad(t.tm_mday, 2) + "T"
            + pad(t.tm_hour, 2) + pad(t.tm_min, 2) + pad(t.tm_sec, 2) + "Z"
    }
}

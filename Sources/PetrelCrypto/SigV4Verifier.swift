/// An access key the admin API accepts (`admin.auth.sigv4` in the config).
public struct SigV4Credentials: Sendable, Equatable {
    public var accessKeyId: String
    public var secretAccessKey: String

    public init(accessKeyId: String, secretAccessKey: String) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
    }
}

/// Why a request's AWS Signature Version 4 was refused. Every case answers 403
/// ForbiddenException; the case is for logs and counters, not for the client.
public enum SigV4Failure: Error, Sendable, Equatable {
    /// No `Authorization` header.
    case missing
    /// The header, the credential scope, `X-Amz-Date` or the signed headers do not parse or do not
    /// agree with each other or with this verifier's service.
    case malformed(String)
    /// The access key id is not configured.
    case unknownKey
    /// `X-Amz-Date` is more than `maxClockSkewSeconds` from now (either way).
    case expired
    /// Everything parsed, but the signature is not the one the secret gives.
    case badSignature
}

/// Verifies header-signed AWS SigV4 requests (`AWS4-HMAC-SHA256`), as boto3 signs
/// `apigatewaymanagementapi` calls. Presigned (query-string) auth is not supported.
///
/// The canonical request is rebuilt from the request as received (AWS "Create a canonical request"):
/// - URI: the raw path, empty and `.`/`..` segments removed as AWS normalises for every service but
///   S3, then each segment percent-encoded once more (RFC 3986 unreserved characters kept), so the
///   wire path `/prod/@connections/AAAA%3D` is signed as `/prod/%40connections/AAAA%253D`.
/// - Query: each key and value decoded and strictly re-encoded, sorted by key then value.
/// - Headers: those named in `SignedHeaders`, in that order, lowercased, values trimmed with inner
///   whitespace runs collapsed, repeats joined with ','. `host` must be signed (it carries the
///   port, so a signature cannot be replayed against another listener).
/// - Payload: SHA-256 of the body. An `X-Amz-Content-Sha256` header must equal it;
///   `UNSIGNED-PAYLOAD` is refused, since the body is the message being posted.
/// Any region is accepted; the scope's service must be `service`, its date X-Amz-Date's date.
public struct SigV4Verifier: Sendable {
    public static let algorithm = "AWS4-HMAC-SHA256"

    public let service: String
    public let maxClockSkewSeconds: Int
    /// Access key id → "AWS4" + secret, the first HMAC key of the derivation.
    private let keys: [String: [UInt8]]

    public init(credentials: [SigV4Credentials], service: String = "execute-api", maxClockSkewSeconds: Int = 300) {
        var keys: [String: [UInt8]] = [:]
        for credential in credentials where keys[credential.accessKeyId] == nil {
            keys[credential.accessKeyId] = SigV4Signing.prefixedSecret(credential.secretAccessKey)
        }
        self.keys = keys
        self.service = service
        self.maxClockSkewSeconds = maxClockSkewSeconds
    }

    /// `rawPath` is the request path exactly as on the wire (percent-encodings kept), without the
    /// query; `rawQuery` is what followed `?`, if anything. Header names in any case. Returns the
    /// access key id on success.
    public func verify(
        method: String, rawPath: String, rawQuery: String?,
        headers: [(name: String, value: String)], body: [UInt8], nowEpochSeconds: Int64
    ) -> Result<String, SigV4Failure> {
        var authorizationValue: String?
        var amzDate: String?
        var contentHash: String?
        for header in headers {
            switch header.name.lowercased() {
            case "authorization":
                guard authorizationValue == nil else { return .failure(.malformed("more than one Authorization header")) }
                authorizationValue = header.value
            case "x-amz-date":
                guard amzDate == nil else { return .failure(.malformed("more than one X-Amz-Date header")) }
                amzDate = header.value.trimmingASCIIWhitespace()
            case "x-amz-content-sha256":
                contentHash = header.value.trimmingASCIIWhitespace()
            default:
                break
            }
        }
        guard let authorizationValue else { return .failure(.missing) }

        let authorization: SigV4Authorization
        switch SigV4Authorization.parse(authorizationValue) {
        case .success(let parsed): authorization = parsed
        case .failure(let failure): return .failure(failure)
        }
        guard authorization.service == service else {
            return .failure(.malformed("credential scope service is not \(service)"))
        }
        guard let amzDate else { return .failure(.malformed("missing X-Amz-Date")) }
        guard let signedAt = SigV4Date.epochSeconds(amzDate) else {
            return .failure(.malformed("X-Amz-Date is not YYYYMMDDTHHMMSSZ"))
        }
        guard amzDate.utf8.prefix(8).elementsEqual(authorization.date.utf8) else {
            return .failure(.malformed("credential scope date does not match X-Amz-Date"))
        }
        guard let secretKey = keys[authorization.accessKeyId] else { return .failure(.unknownKey) }
        let skew = nowEpochSeconds - signedAt
        guard skew.magnitude <= UInt64(max(0, maxClockSkewSeconds)) else { return .failure(.expired) }

        // Payload hash.
        let bodyHash = SHA256.hex(body)
        if let contentHash {
            if contentHash == "UNSIGNED-PAYLOAD" || contentHash.hasPrefix("STREAMING-") {
                return .failure(.malformed("X-Amz-Content-Sha256 must be the body's hash"))
            }
            guard contentHash.lowercased() == bodyHash else { return .failure(.badSignature) }
        }

        // Canonical headers, in SignedHeaders order.
        var values: [String: [String]] = [:]
        for name in authorization.signedHeaders { values[name] = [] }
        for header in headers {
            let name = header.name.lowercased()
            if values[name] != nil { values[name]!.append(SigV4Canonical.trimAll(header.value)) }
        }
        var canonicalHeaders = ""
        for name in authorization.signedHeaders {
            let found = values[name] ?? []
            guard !found.isEmpty else { return .failure(.malformed("signed header \(name) is missing")) }
            canonicalHeaders += name + ":" + found.joined(separator: ",") + "\n"
        }

        let canonicalRequest = SigV4Signing.canonicalRequest(
            method: method, rawPath: rawPath, rawQuery: rawQuery, canonicalHeaders: canonicalHeaders,
            signedHeaders: authorization.signedHeadersText, payloadHash: contentHash ?? bodyHash)
        let signingKey = SigV4Signing.signingKey(
            prefixedSecret: secretKey, date: authorization.date, region: authorization.region, service: authorization.service)
        let expected = SigV4Signing.signature(
            signingKey: signingKey, amzDate: amzDate,
            scope: SigV4Signing.scope(date: authorization.date, region: authorization.region, service: authorization.service),
            canonicalRequest: canonicalRequest)

        guard ConstantTime.equal(Array(expected.utf8), Array(authorization.signature.utf8)) else {
            return .failure(.badSignature)
        }
        return .success(authorization.accessKeyId)
    }
}

/// `AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=a;b, Signature=hex`.
struct SigV4Authorization: Equatable {
    var accessKeyId: String
    var date: String
    var region: String
    var service: String
    var signedHeaders: [String]
    var signedHeadersText: String
    var signature: String

    static func parse(_ header: String) -> Result<SigV4Authorization, SigV4Failure> {
        let value = header.trimmingASCIIWhitespace()
        guard value.hasPrefix(SigV4Verifier.algorithm + " ") else {
            return .failure(.malformed("Authorization is not \(SigV4Verifier.algorithm)"))
        }
        var credential: String?, signedHeaders: String?, signature: String?
        for part in value.dropFirst(SigV4Verifier.algorithm.count + 1).split(separator: ",", omittingEmptySubsequences: false) {
            let item = String(part).trimmingASCIIWhitespace()
            guard let equals = item.firstIndex(of: "=") else { return .failure(.malformed("Authorization component without '='")) }
            let name = item[..<equals], content = String(item[item.index(after: equals)...])
            switch name {
            case "Credential" where credential == nil: credential = content
            case "SignedHeaders" where signedHeaders == nil: signedHeaders = content
            case "Signature" where signature == nil: signature = content
            default: return .failure(.malformed("unexpected or repeated Authorization component \(name)"))
            }
        }
        guard let credential, let signedHeaders, let signature else {
            return .failure(.malformed("Authorization needs Credential, SignedHeaders and Signature"))
        }
        let scope = credential.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard scope.count == 5, !scope[0].isEmpty, !scope[2].isEmpty, !scope[3].isEmpty, scope[4] == "aws4_request" else {
            return .failure(.malformed("Credential is not AKID/DATE/REGION/SERVICE/aws4_request"))
        }
        guard scope[1].utf8.count == 8, scope[1].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            return .failure(.malformed("credential scope date is not YYYYMMDD"))
        }
        let names = signedHeaders.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        guard !names.isEmpty, names.allSatisfy({ !$0.isEmpty && $0 == $0.lowercased() }), Set(names).count == names.count else {
            return .failure(.malformed("SignedHeaders is not a list of distinct lowercase names"))
        }
        guard names.contains("host") else { return .failure(.malformed("host is not signed")) }
        guard signature.utf8.count == 64, signature.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            return .failure(.malformed("Signature is not 64 lowercase hex digits"))
        }
        return .success(SigV4Authorization(
            accessKeyId: scope[0], date: scope[1], region: scope[2], service: scope[3],
            signedHeaders: names, signedHeadersText: signedHeaders, signature: signature))
    }
}

enum SigV4Canonical {
    /// The raw path normalised as AWS does (no empty, `.` or `..` segments), then every segment
    /// percent-encoded once more.
    static func uri(_ rawPath: String) -> String {
        guard !rawPath.isEmpty else { return "/" }
        var segments: [Substring] = []
        for segment in rawPath.split(separator: "/", omittingEmptySubsequences: true) {
            switch segment {
            case ".": continue
            case "..": _ = segments.popLast()
            default: segments.append(segment)
            }
        }
        var out = rawPath.hasPrefix("/") ? "/" : ""
        out += segments.map { encode(Array($0.utf8)) }.joined(separator: "/")
        if rawPath.hasSuffix("/") && !segments.isEmpty { out += "/" }
        return out
    }

    /// Pairs decoded and re-encoded strictly, sorted by encoded key, then encoded value.
    static func query(_ rawQuery: String?) -> String {
        guard let rawQuery, !rawQuery.isEmpty else { return "" }
        var pairs: [(key: [UInt8], value: [UInt8])] = []
        for item in Array(rawQuery.utf8).split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let equals = item.firstIndex(of: UInt8(ascii: "="))
            let key = equals.map { item[..<$0] } ?? item[...]
            let value = equals.map { item[item.index(after: $0)...] } ?? item[item.endIndex...]
            pairs.append((Array(encode(percentDecode(key)).utf8), Array(encode(percentDecode(value)).utf8)))
        }
        pairs.sort { a, b in
            a.key != b.key ? a.key.lexicographicallyPrecedes(b.key) : a.value.lexicographicallyPrecedes(b.value)
        }
        return pairs.map { String(decoding: $0.key, as: UTF8.self) + "=" + String(decoding: $0.value, as: UTF8.self) }
            .joined(separator: "&")
    }

    /// RFC 3986 §2.3: everything but unreserved characters as %XX (uppercase hex).
    static func encode(_ bytes: [UInt8]) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count)
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
                 UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// %XX decoded; a '%' not followed by two hex digits stays literal.
    static func percentDecode(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i < bytes.endIndex {
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.endIndex, let hi = hexValue(bytes[i + 1]), let lo = hexValue(bytes[i + 2]) {
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// SigV4 "Trimall": leading and trailing whitespace removed, inner runs collapsed to one space.
    static func trimAll(_ value: String) -> String {
        var out = [UInt8]()
        var pendingSpace = false
        for byte in value.utf8 {
            if isASCIIWhitespace(byte) {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(0x20) }
                pendingSpace = false
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

enum SigV4Date {
    /// Seconds since the epoch for `YYYYMMDDTHHMMSSZ` (ISO 8601 basic, UTC), nil if malformed.
    static func epochSeconds(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        guard b.count == 16, b[8] == UInt8(ascii: "T"), b[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var n: Int64 = 0
            for i in range {
                guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
                n = n * 10 + Int64(b[i] - 0x30)
            }
            return n
        }
        guard let y = number(0..<4), let m = number(4..<6), let d = number(6..<8),
              let hh = number(9..<11), let mm = number(11..<13), let ss = number(13..<15),
              (1...12).contains(m), (1...31).contains(d), hh < 24, mm < 60, ss < 61
        else { return nil }
        return daysFromCivil(year: y, month: m, day: d) * 86_400 + hh * 3_600 + mm * 60 + ss
    }

    /// Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithm).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

@inline(__always)
private func isASCIIWhitespace(_ byte: UInt8) -> Bool {
    byte == 0x20 || (byte >= 0x09 && byte <= 0x0D)
}

extension String {
    func trimmingASCIIWhitespace() -> String {
        let bytes = Array(utf8)
        var lo = 0, hi = bytes.count
        while lo < hi, isASCIIWhitespace(bytes[lo]) { lo += 1 }
        while hi > lo, isASCIIWhitespace(bytes[hi - 1]) { hi -= 1 }
        return String(decoding: bytes[lo..<hi], as: UTF8.self)
    }
}

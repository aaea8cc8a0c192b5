import PetrelCodecs
import PetrelConfig
import PetrelCrypto

/// Admin-listener authentication (DESIGN §6): AWS Signature Version 4 for the SDKs, or a
/// bearer token. With neither configured the listener is loopback-only and open.
final class AdminAuth: Sendable {
    let bearerTokens: Set<String>
    let sigv4: SigV4Verifier?
    let publicMetrics: Bool

    init(_ config: AdminAuthConfig?) {
        bearerTokens = Set(config?.bearerTokens ?? [])
        let keys = (config?.sigv4 ?? []).map { SigV4Credentials(accessKeyId: $0.accessKeyId, secretAccessKey: $0.secretAccessKey) }
        sigv4 = keys.isEmpty ? nil : SigV4Verifier(credentials: keys)
        publicMetrics = config?.publicMetrics ?? false
    }

    var isConfigured: Bool { !bearerTokens.isEmpty || sigv4 != nil }

    func allows(_ head: HTTPRequestHead, body: [UInt8], nowEpochSeconds: Int64) -> Bool {
        guard isConfigured else { return true }
        guard let authorization = head.headers.first("Authorization") else { return false }
        if authorization.hasPrefix("Bearer ") {
            return bearerTokens.contains(String(authorization.dropFirst("Bearer ".count)).trimmedSpaces)
        }
        guard let sigv4 else { return false }
        switch sigv4.verify(method: head.method, rawPath: head.path, rawQuery: head.query, headers: head.headers.entries,
                            body: body, nowEpochSeconds: nowEpochSeconds) {
        case .success: return true
        case .failure: return false
        }
    }
}

extension String {
    var trimmedSpaces: String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return String(s)
    }
}

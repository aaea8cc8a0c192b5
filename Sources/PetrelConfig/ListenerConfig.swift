/// Key `listeners`.
public struct ListenersConfig: Sendable, Equatable {
    public var `public`: ListenerConfig
    /// `@connections`, `/metrics`, `/healthz`, `/readyz`.
    public var admin: ListenerConfig

    public init(
        public: ListenerConfig = ListenerConfig(host: "0.0.0.0", port: 8080),
        admin: ListenerConfig = ListenerConfig(host: "127.0.0.1", port: 9090)
    ) {
        self.public = `public`
        self.admin = admin
    }
}

/// One listener. In YAML the address is one key, `address: HOST:PORT`.
public struct ListenerConfig: Sendable, Equatable {
    public var host: String
    /// 0 asks the kernel for a free port (tests).
    public var port: Int
    public var tls: TLSConfig?
    /// Admin listener only.
    public var auth: AdminAuthConfig?
    public var proxyProtocol: ProxyProtocolVersion?
    /// CIDRs whose `X-Forwarded-For` is believed.
    public var trustedProxies: [String]
    /// Keys `allow_ips` / `deny_ips`: CIDRs; an empty allow list allows everyone.
    public var allowIPs: [String]
    public var denyIPs: [String]
    /// Key `max_connections_per_ip`; `nil` = no cap.
    public var maxConnectionsPerIP: Int?

    public init(
        host: String, port: Int, tls: TLSConfig? = nil, auth: AdminAuthConfig? = nil,
        proxyProtocol: ProxyProtocolVersion? = nil, trustedProxies: [String] = [],
        allowIPs: [String] = [], denyIPs: [String] = [], maxConnectionsPerIP: Int? = nil
    ) {
        self.host = host
        self.port = port
        self.tls = tls
        self.auth = auth
        self.proxyProtocol = proxyProtocol
        self.trustedProxies = trustedProxies
        self.allowIPs = allowIPs
        self.denyIPs = denyIPs
        self.maxConnectionsPerIP = maxConnectionsPerIP
    }
}

/// Key `proxy_protocol`: HAProxy PROXY protocol version expected before the first byte.
public enum ProxyProtocolVersion: String, Sendable, Equatable, CaseIterable {
    case v1, v2
}

/// Key `tls`.
public struct TLSConfig: Sendable, Equatable {
    /// Path to the PEM certificate chain.
    public var certificate: String
    /// Path to the PEM private key, or the PEM text itself when it starts with `-----BEGIN`
    /// (as when written `private_key: ${env:TLS_KEY}`). Key `private_key_file` is accepted as a
    /// synonym of `private_key`, since a TLS key is always read from a file anyway.
    public var privateKey: String
    /// Key `client_ca`: when set, clients must present a certificate it signed (mTLS).
    public var clientCA: String?
    /// Key `crl`: PEM certificate revocation list checked against client certificates (needs `client_ca`).
    public var crl: String?
    /// Key `certificates`: more certificates chosen by the name the client asks for (SNI); the
    /// top-level `certificate` is the default for other names and for clients that send none.
    public var certificates: [TLSServerNameCertificate]

    public init(certificate: String, privateKey: String, clientCA: String? = nil, crl: String? = nil,
                certificates: [TLSServerNameCertificate] = []) {
        self.certificate = certificate
        self.privateKey = privateKey
        self.clientCA = clientCA
        self.crl = crl
        self.certificates = certificates
    }
}

/// One entry of `tls.certificates`: `{server_name, certificate, private_key}`.
public struct TLSServerNameCertificate: Sendable, Equatable {
    /// A host name (`api.example.com`) or a one-label wildcard (`*.example.com`).
    public var serverName: String
    public var certificate: String
    /// A path, or the PEM text itself (as for `tls.private_key`).
    public var privateKey: String

    public init(serverName: String, certificate: String, privateKey: String) {
        self.serverName = serverName
        self.certificate = certificate
        self.privateKey = privateKey
    }
}

/// Key `listeners.admin.auth`.
public struct AdminAuthConfig: Sendable, Equatable {
    public var sigv4: [SigV4Key]
    /// Key `bearer_tokens`: each entry a string, or `{file: PATH}` to read one token from a file.
    public var bearerTokens: [String]
    /// Key `public_metrics`: serve `/metrics` without auth.
    public var publicMetrics: Bool

    public init(sigv4: [SigV4Key] = [], bearerTokens: [String] = [], publicMetrics: Bool = false) {
        self.sigv4 = sigv4
        self.bearerTokens = bearerTokens
        self.publicMetrics = publicMetrics
    }
}

/// One entry of `sigv4`; the secret may be given as `secret_access_key_file: PATH`.
public struct SigV4Key: Sendable, Equatable {
    public var accessKeyId: String
    public var secretAccessKey: String

    public init(accessKeyId: String, secretAccessKey: String) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
    }
}

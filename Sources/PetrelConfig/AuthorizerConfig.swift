/// One entry of `authorizers`.
public struct AuthorizerConfig: Sendable, Equatable {
    public var type: AuthorizerType
    /// `jwt`: required `iss`.
    public var issuer: String?
    /// `jwt`: accepted `aud` values (empty = any).
    public var audiences: [String]
    /// `jwt`: JSON Web Key Set for RS256/ES256 (made absolute against the config file's directory).
    public var jwksFile: String?
    /// `jwt`: HS256 shared key; also `secret_file: PATH`.
    public var secret: String?
    /// Key `identity_source`: where the identity comes from; default the `Authorization` header.
    public var identitySource: [String]
    /// `http`: the authorizer endpoint.
    public var url: String?
    /// `http`: key `cache_ttl`, how long a decision is cached per identity; `nil` = not cached.
    public var cacheTTL: Milliseconds?
    /// `http`: how long to wait for the authorizer.
    public var timeout: Milliseconds?
    /// `sigv4`: the access keys whose Signature Version 4 signatures it accepts.
    public var keys: [SigV4Key] = []

    public init(
        type: AuthorizerType, issuer: String? = nil, audiences: [String] = [], jwksFile: String? = nil,
        secret: String? = nil, identitySource: [String] = AuthorizerConfig.defaultIdentitySource,
        url: String? = nil, cacheTTL: Milliseconds? = nil, timeout: Milliseconds? = nil
    ) {
        self.type = type
        self.issuer = issuer
        self.audiences = audiences
        self.jwksFile = jwksFile
        self.secret = secret
        self.identitySource = identitySource
        self.url = url
        self.cacheTTL = cacheTTL
        self.timeout = timeout
    }

    /// API Gateway's default for JWT authorizers.
    public static let defaultIdentitySource = ["$request.header.Authorization"]
}

public enum AuthorizerType: String, Sendable, Equatable, CaseIterable {
    case jwt
    case http
    /// API Gateway's IAM authorization: requests signed with AWS Signature Version 4.
    case sigv4
}

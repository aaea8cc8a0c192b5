import Yams

extension ConfigReader {
    func decodeListeners(_ fields: MappingFields) -> ListenersConfig {
        defer { fields.finish() }
        var listeners = ListenersConfig()
        if let publicFields = fields.mapping("public") {
            listeners.public = decodeListener(publicFields, isAdmin: false, defaults: listeners.public)
        }
        var adminHasAuth = false
        if let adminFields = fields.mapping("admin") {
            listeners.admin = decodeListener(adminFields, isAdmin: true, defaults: listeners.admin)
            adminHasAuth = adminFields.has("auth")
        }
        // DESIGN §6: the management API can post to and drop any connection; never expose it unauthenticated.
        if !adminHasAuth, !NetworkAddresses.isLoopback(listeners.admin.host) {
            report(KeyPath.member(fields.path("admin"), "auth"),
                   "required when the admin listener's address is not loopback (\(listeners.admin.host))")
        }
        return listeners
    }

    private func decodeListener(_ fields: MappingFields, isAdmin: Bool, defaults: ListenerConfig) -> ListenerConfig {
        defer { fields.finish() }
        var listener = defaults
        if let address = fields.string("address") {
            if let (host, port) = parseHostPort(address) {
                listener.host = host
                listener.port = port
            } else {
                report(fields.path("address"), "expected HOST:PORT with a port from 0 to 65535, like 0.0.0.0:8080 or [::1]:9090")
            }
        }
        if let tls = fields.mapping("tls") { listener.tls = decodeTLS(tls) }
        if isAdmin {
            if let auth = fields.mapping("auth") { listener.auth = decodeAdminAuth(auth) }
        } else {
            fields.forbid("auth", because: "only the admin listener takes auth")
        }
        listener.proxyProtocol = fields.choice("proxy_protocol")
        listener.trustedProxies = cidrList(fields, "trusted_proxies")
        listener.allowIPs = cidrList(fields, "allow_ips")
        listener.denyIPs = cidrList(fields, "deny_ips")
        if isAdmin {
            // The cap counts WebSocket upgrades; accepting it on a listener that serves none would
            // promise a protection that never applies.
            fields.forbid("max_connections_per_ip", because: "it caps WebSocket connections, which the admin listener does not serve")
        } else {
            listener.maxConnectionsPerIP = fields.positiveInt("max_connections_per_ip")
        }
        return listener
    }

    private func cidrList(_ fields: MappingFields, _ key: String) -> [String] {
        guard let node = fields[key], let elements = sequence(node, at: fields.path(key)) else { return [] }
        return elements.compactMap { element in
            guard let text = string(element.node, at: element.keyPath) else { return nil }
            guard NetworkAddresses.isCIDR(text) else {
                report(element.keyPath, "expected an IP address or CIDR, like 10.0.0.0/8 or ::1")
                return nil
            }
            return text
        }
    }

    private func decodeTLS(_ fields: MappingFields) -> TLSConfig? {
        defer { fields.finish() }
        let certificate = fields.required("certificate").flatMap { string($0, at: fields.path("certificate")) }
        let privateKey = decodePrivateKey(fields)
        let clientCA = fields.string("client_ca").map(resolvedPath)
        let crl = fields.string("crl").map(resolvedPath)
        if crl != nil, clientCA == nil {
            report(fields.path("crl"), "needs client_ca (a CRL applies to client certificates)")
        }
        var sniCertificates: [TLSServerNameCertificate] = []
        if let node = fields["certificates"], let entries = sequence(node, at: fields.path("certificates")) {
            for entry in entries {
                guard let entryFields = mapping(entry.node, at: entry.keyPath) else { continue }
                let name = entryFields.required("server_name").flatMap { string($0, at: entryFields.path("server_name")) }
                let path = entryFields.required("certificate").flatMap { string($0, at: entryFields.path("certificate")) }
                let key = decodePrivateKey(entryFields)
                if let name, !Self.isServerName(name) {
                    report(entryFields.path("server_name"), "expected a host name like api.example.com or *.example.com")
                }
                entryFields.finish()
                if let name, let path, let key {
                    sniCertificates.append(TLSServerNameCertificate(serverName: name, certificate: resolvedPath(path), privateKey: key))
                }
            }
        }
        guard let certificate, let privateKey else { return nil }
        return TLSConfig(certificate: resolvedPath(certificate), privateKey: privateKey, clientCA: clientCA, crl: crl,
                         certificates: sniCertificates)
    }

    /// `private_key` or its synonym `private_key_file`: a path, or inline PEM text.
    private func decodePrivateKey(_ fields: MappingFields) -> String? {
        // A TLS key is always loaded from a file, so `private_key_file` is the same thing as `private_key`.
        switch (fields.string("private_key"), fields.string("private_key_file")) {
        case (.some, .some):
            report(fields.path("private_key_file"), "give either private_key or private_key_file, not both")
        case (.some(let value), nil), (nil, .some(let value)):
            return value.hasPrefix("-----BEGIN") ? value : resolvedPath(value)
        case (nil, nil):
            if !fields.has("private_key"), !fields.has("private_key_file") {
                report(fields.path("private_key"), "required key is missing (or private_key_file)")
            }
        }
        return nil
    }

    /// Host names for SNI: letters, digits, hyphens and dots, optionally `*.` first.
    static func isServerName(_ name: String) -> Bool {
        let body = name.hasPrefix("*.") ? name.dropFirst(2) : Substring(name)
        guard !body.isEmpty, body.count <= 253, !body.hasPrefix("."), !body.hasSuffix("."), !body.contains("..") else { return false }
        return body.utf8.allSatisfy { c in
            (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x2E
        }
    }

    private func decodeAdminAuth(_ fields: MappingFields) -> AdminAuthConfig {
        defer { fields.finish() }
        var auth = AdminAuthConfig()
        let problemsBefore = problems.count
        if let node = fields["sigv4"], let entries = sequence(node, at: fields.path("sigv4")) {
            for entry in entries {
                guard let keyFields = mapping(entry.node, at: entry.keyPath) else { continue }
                let accessKeyId = keyFields.required("access_key_id").flatMap { string($0, at: keyFields.path("access_key_id")) }
                let secret = keyFields.secret("secret_access_key", required: true)
                keyFields.finish()
                if let accessKeyId, let secret { auth.sigv4.append(SigV4Key(accessKeyId: accessKeyId, secretAccessKey: secret)) }
            }
        }
        if let node = fields["bearer_tokens"], let entries = sequence(node, at: fields.path("bearer_tokens")) {
            for entry in entries {
                // Each token is a string, or `{file: PATH}` naming a file that holds it.
                if case .mapping = entry.node {
                    guard let tokenFields = mapping(entry.node, at: entry.keyPath) else { continue }
                    let token = tokenFields.required("file").flatMap { path in
                        string(path, at: tokenFields.path("file")).flatMap { secretFile($0, at: tokenFields.path("file")) }
                    }
                    tokenFields.finish()
                    if let token { auth.bearerTokens.append(token) }
                } else if let token = string(entry.node, at: entry.keyPath) {
                    if token.isEmpty { report(entry.keyPath, "must not be empty") } else { auth.bearerTokens.append(token) }
                }
            }
        }
        auth.publicMetrics = fields.bool("public_metrics") ?? false
        // An auth block that lets nobody in is a mistake, unless an entry's own problem explains it.
        if auth.sigv4.isEmpty, auth.bearerTokens.isEmpty, problems.count == problemsBefore {
            report(fields.keyPath, "configure at least one sigv4 key or bearer token")
        }
        return auth
    }
}

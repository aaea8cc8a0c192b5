import Foundation
import Testing
@testable import PetrelConfig

@Suite struct EnvironmentAndSecretTests {
    @Test func environmentVariablesAreSubstitutedInAnyString() throws {
        let config = try loadConfig("""
            node: {id: "${env:NODE}-x"}
            registry: {redis: "${env:REDIS_URL}"}
            websocket: {limits: {max_connections: "${env:MAX}"}}
            """, environment: ["NODE": "n7", "REDIS_URL": "redis://r:6379/1", "MAX": "42"])
        #expect(config.node.id == "n7-x")
        #expect(config.registry.redis == "redis://r:6379/1")
        #expect(config.websocket.limits.maxConnections == 42)
    }

    @Test func missingEnvironmentVariableIsAProblem() {
        #expect(configProblems("node: {id: '${env:NOPE}'}") == [
            ConfigProblem(keyPath: "node.id", message: "environment variable NOPE is not set"),
        ])
    }

    @Test func malformedReferenceIsAProblem() {
        #expect(problemPaths("node: {id: '${env:NO PE}'}") == ["node.id"])
        #expect(problemPaths("node: {id: '${env:UNCLOSED'}") == ["node.id"])
    }

    @Test func otherPlaceholdersAreLeftAlone() throws {
        let config = try loadConfig("""
            websocket: {route_selection: "${request.body.service}/${request.body.action}"}
            integrations: {w: {type: mock, body: '{"id":"${context.connectionId}"}'}}
            """)
        #expect(config.websocket.routeSelection == "${request.body.service}/${request.body.action}")
        #expect(config.integrations["w"]?.body == #"{"id":"${context.connectionId}"}"#)
    }

    @Test func secretsFromTheEnvironment() throws {
        let config = try loadConfig("""
            listeners:
              admin:
                auth:
                  sigv4: [{access_key_id: AK, secret_access_key: "${env:SECRET}"}]
                  bearer_tokens: ["${env:TOKEN}"]
            """, environment: ["SECRET": "s3cr3t", "TOKEN": "tok"])
        #expect(config.listeners.admin.auth == AdminAuthConfig(sigv4: [SigV4Key(accessKeyId: "AK", secretAccessKey: "s3cr3t")], bearerTokens: ["tok"]))
    }

    @Test func secretsFromFilesRelativeToTheConfigDirectoryWithTheTrailingNewlineTrimmed() throws {
        try withTemporaryDirectory { directory in
            try "from-file\n".write(toFile: directory + "/sigv4", atomically: true, encoding: .utf8)
            try "token-from-file\r\n".write(toFile: directory + "/token", atomically: true, encoding: .utf8)
            try "hs256-key\n".write(toFile: directory + "/hs", atomically: true, encoding: .utf8)
            let config = try loadConfig("""
                listeners:
                  admin:
                    auth:
                      sigv4: [{access_key_id: AK, secret_access_key_file: sigv4}]
                      bearer_tokens: [plain, {file: token}, {file: \(directory)/token}]
                authorizers: {j: {type: jwt, secret_file: hs}}
                """, baseDirectory: directory)
            #expect(config.listeners.admin.auth?.sigv4 == [SigV4Key(accessKeyId: "AK", secretAccessKey: "from-file")])
            #expect(config.listeners.admin.auth?.bearerTokens == ["plain", "token-from-file", "token-from-file"])
            #expect(config.authorizers["j"]?.secret == "hs256-key")
        }
    }

    @Test func loadingByPathUsesTheFileDirectory() throws {
        try withTemporaryDirectory { directory in
            try "k\n".write(toFile: directory + "/secret", atomically: true, encoding: .utf8)
            try """
                listeners: {admin: {auth: {sigv4: [{access_key_id: AK, secret_access_key_file: secret}]}}}
                """.write(toFile: directory + "/petrel.yaml", atomically: true, encoding: .utf8)
            let config = try ConfigLoader.load(path: directory + "/petrel.yaml", environment: [:]).get()
            #expect(config.listeners.admin.auth?.sigv4.first?.secretAccessKey == "k")
        }
    }

    @Test func unreadableSecretFileIsAProblem() {
        #expect(configProblems("listeners: {admin: {auth: {sigv4: [{access_key_id: AK, secret_access_key_file: missing}]}}}") == [
            ConfigProblem(keyPath: "listeners.admin.auth.sigv4[0].secret_access_key_file", message: "cannot read secret file /etc/petrel/missing"),
        ])
        #expect(problemPaths("listeners: {admin: {auth: {bearer_tokens: [{file: /nonexistent/t}]}}}") == ["listeners.admin.auth.bearer_tokens[0].file"])
    }

    @Test func emptySecretFileIsAProblem() throws {
        try withTemporaryDirectory { directory in
            try "\n".write(toFile: directory + "/empty", atomically: true, encoding: .utf8)
            let problems = configProblems("listeners: {admin: {auth: {bearer_tokens: [{file: empty}]}}}", baseDirectory: directory)
            #expect(problems.map(\.keyPath) == ["listeners.admin.auth.bearer_tokens[0].file"])
        }
    }

    @Test func secretAndSecretFileTogetherIsAProblem() {
        #expect(problemPaths("listeners: {admin: {auth: {sigv4: [{access_key_id: AK, secret_access_key: a, secret_access_key_file: b}]}}}")
            == ["listeners.admin.auth.sigv4[0].secret_access_key_file"])
    }

    @Test func missingSecretIsAProblem() {
        #expect(problemPaths("listeners: {admin: {auth: {sigv4: [{access_key_id: AK}]}}}") == ["listeners.admin.auth.sigv4[0].secret_access_key"])
    }

    @Test func tlsPathsAreResolvedAndInlinePEMKept() throws {
        let config = try loadConfig("""
            listeners:
              public: {address: "0.0.0.0:443", tls: {certificate: c.pem, private_key: "${env:KEY}", client_ca: /abs/ca.pem}}
            """, environment: ["KEY": "-----BEGIN PRIVATE KEY-----\nabc"], baseDirectory: "/etc/petrel")
        #expect(config.listeners.public.tls == TLSConfig(certificate: "/etc/petrel/c.pem", privateKey: "-----BEGIN PRIVATE KEY-----\nabc", clientCA: "/abs/ca.pem"))
    }

    @Test func tlsPrivateKeyFileIsASynonym() throws {
        let config = try loadConfig("listeners: {public: {tls: {certificate: c.pem, private_key_file: k.pem}}}")
        #expect(config.listeners.public.tls?.privateKey == "/etc/petrel/k.pem")
    }
}

@Suite struct TLSListenerConfigTests {
    @Test func sniCertificatesAndCRLAreDecoded() throws {
        let config = try loadConfig("""
            listeners:
              public:
                tls:
                  certificate: default.pem
                  private_key: default.key
                  client_ca: ca.pem
                  crl: revoked.pem
                  certificates:
                    - {server_name: api.example.com, certificate: api.pem, private_key: api.key}
                    - {server_name: "*.example.org", certificate: /abs/org.pem, private_key_file: org.key}
            """)
        #expect(config.listeners.public.tls == TLSConfig(
            certificate: "/etc/petrel/default.pem", privateKey: "/etc/petrel/default.key", clientCA: "/etc/petrel/ca.pem",
            crl: "/etc/petrel/revoked.pem",
            certificates: [TLSServerNameCertificate(serverName: "api.example.com", certificate: "/etc/petrel/api.pem", privateKey: "/etc/petrel/api.key"),
                           TLSServerNameCertificate(serverName: "*.example.org", certificate: "/abs/org.pem", privateKey: "/etc/petrel/org.key")]))
    }

    @Test func sniEntriesAreChecked() {
        let paths = configProblems("""
            listeners:
              public:
                tls:
                  certificate: c.pem
                  private_key: k.pem
                  certificates:
                    - {server_name: "bad name", certificate: a.pem, private_key: a.key}
                    - {server_name: ok.example.com, private_key: b.key, colour: blue}
                    - {certificate: c.pem, private_key: c.key}
            """).map(\.keyPath)
        #expect(paths.contains("listeners.public.tls.certificates[0].server_name"))
        #expect(paths.contains("listeners.public.tls.certificates[1].certificate"))
        #expect(paths.contains("listeners.public.tls.certificates[1].colour"))
        #expect(paths.contains("listeners.public.tls.certificates[2].server_name"))
    }

    @Test func crlNeedsClientCA() {
        #expect(configProblems("listeners: {public: {tls: {certificate: c.pem, private_key: k.pem, crl: r.pem}}}").map(\.keyPath)
            == ["listeners.public.tls.crl"])
    }

    @Test func unknownTLSKeyIsAProblem() {
        #expect(configProblems("listeners: {public: {tls: {certificate: c.pem, private_key: k.pem, ciphers: RC4}}}").map(\.keyPath)
            == ["listeners.public.tls.ciphers"])
    }
}

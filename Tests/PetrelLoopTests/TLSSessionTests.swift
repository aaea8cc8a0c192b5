import COpenSSL
import Foundation
import Testing
@testable import PetrelLoop

/// TLS between a `TLSSession` (server) and an OpenSSL client over memory BIOs: no sockets.
@Suite struct TLSSessionTests {
    let dir = TempDir()
    let ca = TestPKI.issue([("CN", "Petrel Test CA")], isCA: true)

    func context(_ leaves: [(String?, TestPKI.Issued)] = [], clientCA: TestPKI.Issued? = nil, crl: String? = nil) throws -> TLSServerContext {
        let all = leaves.isEmpty ? [(nil, TestPKI.issue([("CN", "default.test")], issuer: ca))] : leaves
        var sources: [TLSCertificateSource] = []
        for (i, (name, issued)) in all.enumerated() {
            let cert = dir.write("cert\(i).pem", issued.certPEM)
            let key = dir.write("key\(i).pem", issued.keyPEM)
            sources.append(TLSCertificateSource(serverName: name, certificatePath: cert, privateKey: key))
        }
        let settings = TLSServerSettings(certificates: sources,
                                         clientCAPath: clientCA.map { dir.write("client-ca.pem", $0.certPEM) },
                                         crlPath: crl.map { dir.write("crl.pem", $0) })
        return try TLSServerContext(settings: settings)
    }

    func roundTrip(_ pair: TLSPair, _ message: [UInt8]) -> [UInt8] {
        pair.client.write(message)
        var echoed: [UInt8] = []
        for _ in 0..<1000 where echoed.count < message.count {
            pair.clientToServer()
            pair.serverToClient()
            echoed += pair.client.read() ?? []
        }
        return echoed
    }

    @Test(arguments: [Int32(TLS1_2_VERSION), Int32(TLS1_3_VERSION)])
    func handshakeAndEchoInManyChunkSizes(version: Int32) throws {
        let ctx = try context()
        for fragment in [1, 5, 100, 1500, 16_389, 1 << 30] {
            let pair = TLSPair(context: ctx, client: .init(minVersion: version, maxVersion: version, trust: ca), fragment: fragment)
            #expect(pair.handshake())
            #expect(pair.server.protocolVersion == (version == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2"))
            #expect(pair.client.verifyResult == Int(X509_V_OK))
            for size in [1, 2, 125, 126, 4095, 4096, 4097, 16_383, 16_384, 16_385, 65_536, 131_072, 300_000] {
                if fragment == 1 && size > 20_000 { continue }  // byte-at-a-time feeding is slow
                let message = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ size) }
                let before = pair.serverReceived.count
                #expect(roundTrip(pair, message) == message, "size \(size) fragment \(fragment)")
                #expect(Array(pair.serverReceived[before...]) == message)
            }
        }
    }

    @Test func plaintextIsDeliveredInBufferSizedBatches() throws {
        let pair = TLSPair(context: try context(), plaintextBuffer: 64 * 1024)
        #expect(pair.handshake())
        pair.echo = false
        // Many small records in one read arrive as one delivery.
        for _ in 0..<50 { pair.client.write(Array(repeating: 0x61, count: 100)) }
        pair.deliveries = 0
        pair.clientToServer()
        #expect(pair.serverReceived.count == 5000)
        #expect(pair.deliveries == 1)
    }

    @Test func serverWritesLargeAndTinyBuffers() throws {
        let pair = TLSPair(context: try context())
        #expect(pair.handshake())
        let big = [UInt8](repeating: 7, count: 1 << 20)
        big.withUnsafeBytes { #expect(pair.server.encrypt($0)) }
        pair.serverToClient()
        #expect(pair.client.read() == big)
        #expect(pair.server.encrypt(UnsafeRawBufferPointer(start: nil, count: 0)))
    }

    @Test func encryptBeforeHandshakeIsRefused() throws {
        let session = try context().makeSession()
        let sink = ByteSink()
        session.output = sink
        [1, 2, 3].withUnsafeBytes { #expect(!session.encrypt($0)) }
        #expect(sink.bytes.isEmpty)
    }

    @Test func tls11ClientIsRefused() throws {
        let pair = TLSPair(context: try context(),
                           client: .init(minVersion: Int32(TLS1_VERSION), maxVersion: Int32(TLS1_1_VERSION), ciphers: "DEFAULT:@SECLEVEL=0"))
        #expect(!pair.handshake())
        #expect(pair.serverResult == .failed)
        #expect(pair.server.failureReason?.contains("unsupported protocol") == true, "\(pair.server.failureReason ?? "")")
        // The server answered with an alert, and the client gave up.
        #expect(!pair.client.handshakeDone)
    }

    @Test func weakCipherOnlyClientIsRefused() throws {
        let pair = TLSPair(context: try context(),
                           client: .init(maxVersion: Int32(TLS1_2_VERSION), ciphers: "AES128-SHA:@SECLEVEL=0"))
        #expect(!pair.handshake())
        #expect(pair.server.failureReason?.contains("no shared cipher") == true, "\(pair.server.failureReason ?? "")")
    }

    @Test func garbageFailsTheHandshake() throws {
        let session = try context().makeSession()
        let sink = ByteSink()
        session.output = sink
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 16)
        defer { buffer.deallocate() }
        var request = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        let result = request.withUnsafeMutableBytes { session.feed($0, plaintext: buffer) { _ in true } }
        #expect(result == .failed)
        // Failed stays failed.
        var more: [UInt8] = [0x16, 3, 1]
        #expect(more.withUnsafeMutableBytes { session.feed($0, plaintext: buffer) { _ in true } } == .failed)
    }

    @Test func alpnSelectsHTTP11() throws {
        let ctx = try context()
        let offered = TLSPair(context: ctx, client: .init(alpn: ["h2", "http/1.1"]))
        #expect(offered.handshake())
        #expect(offered.server.negotiatedProtocol == "http/1.1")
        #expect(offered.client.alpn == "http/1.1")

        let none = TLSPair(context: ctx)
        #expect(none.handshake())
        #expect(none.server.negotiatedProtocol == nil)

        // Only h2 offered: no ALPN answer, the handshake still succeeds.
        let h2 = TLSPair(context: ctx, client: .init(alpn: ["h2"]))
        #expect(h2.handshake())
        #expect(h2.client.alpn == nil)
    }

    @Test func sniPicksTheCertificate() throws {
        let main = TestPKI.issue([("CN", "default.test")], issuer: ca)
        let api = TestPKI.issue([("CN", "api.test")], issuer: ca)
        let wild = TestPKI.issue([("CN", "*.wild.test")], issuer: ca)
        let ctx = try context([(nil, main), ("api.test", api), ("*.wild.test", wild)])
        let cases: [(String?, String)] = [
            ("api.test", api.fingerprint), ("API.Test", api.fingerprint), ("x.wild.test", wild.fingerprint),
            ("a.b.wild.test", main.fingerprint), ("wild.test", main.fingerprint),
            ("unknown.test", main.fingerprint), (nil, main.fingerprint),
        ]
        for (name, expected) in cases {
            let pair = TLSPair(context: ctx, client: .init(serverName: name, trust: ca))
            #expect(pair.handshake(), "\(name ?? "no SNI")")
            #expect(pair.client.peerFingerprint == expected, "\(name ?? "no SNI")")
            #expect(roundTrip(pair, Array("hello".utf8)) == Array("hello".utf8))
        }
        #expect(ctx.defaultCertificateFingerprint == main.fingerprint)
    }

    @Test func mtlsRequiresAClientCertificate() throws {
        let ctx = try context(clientCA: ca)
        for version in [Int32(TLS1_2_VERSION), Int32(TLS1_3_VERSION)] {
            let pair = TLSPair(context: ctx, client: .init(maxVersion: version))
            #expect(!pair.handshake())
            #expect(pair.serverResult == .failed)
            #expect(pair.server.failureReason?.contains("peer did not return a certificate") == true, "\(pair.server.failureReason ?? "")")
            #expect(pair.server.clientCertificate == nil)
        }
    }

    @Test func mtlsRefusesCertificatesFromAnotherCAOrExpired() throws {
        let ctx = try context(clientCA: ca)
        let otherCA = TestPKI.issue([("CN", "Other CA")], isCA: true)
        let stranger = TestPKI.issue([("CN", "stranger")], issuer: otherCA)
        let expired = TestPKI.issue([("CN", "old")], issuer: ca, notBefore: 1_500_000_000, notAfter: 1_600_000_000)
        for cert in [stranger, expired] {
            let pair = TLSPair(context: ctx, client: .init(certificate: cert))
            #expect(!pair.handshake())
            #expect(pair.server.failureReason?.contains("certificate verify failed") == true, "\(pair.server.failureReason ?? "")")
        }
    }

    @Test(arguments: [Int32(TLS1_2_VERSION), Int32(TLS1_3_VERSION)])
    func mtlsAcceptsACertificateFromTheCA(version: Int32) throws {
        let ctx = try context(clientCA: ca)
        let device = TestPKI.issue([("C", "DE"), ("O", "Acme Devices"), ("CN", "device-1")], issuer: ca,
                                   serial: [0x0A, 0x1B, 0x2C, 0x3D, 0x4E], notBefore: 1_700_000_000, notAfter: 4_102_444_800)
        let pair = TLSPair(context: ctx, client: .init(maxVersion: version, certificate: device))
        #expect(pair.handshake())
        let info = try #require(pair.server.clientCertificate)
        #expect(info.subjectDN == "CN=device-1,O=Acme Devices,C=DE")
        #expect(info.issuerDN == "CN=Petrel Test CA")
        #expect(info.serialNumber == "0a:1b:2c:3d:4e")
        #expect(info.validityNotBefore == "Nov 14 22:13:20 2023 GMT")
        #expect(info.validityNotAfter == "Jan  1 00:00:00 2100 GMT")
        #expect(info.clientCertPem == device.certPEM)
        #expect(info.clientCertPem.hasPrefix("-----BEGIN CERTIFICATE-----\n"))
        #expect(roundTrip(pair, Array("ping".utf8)) == Array("ping".utf8))
    }

    @Test func crlRefusesARevokedCertificate() throws {
        let revokedSerial: [UInt8] = [0x66, 0x01]
        let ctx = try context(clientCA: ca, crl: TestPKI.crl(by: ca, revoking: [revokedSerial]))
        let revoked = TestPKI.issue([("CN", "lost-device")], issuer: ca, serial: revokedSerial)
        let good = TestPKI.issue([("CN", "good-device")], issuer: ca, serial: [0x66, 0x02])
        let bad = TLSPair(context: ctx, client: .init(certificate: revoked))
        #expect(!bad.handshake())
        #expect(bad.server.failureReason?.contains("certificate verify failed") == true)
        let ok = TLSPair(context: ctx, client: .init(certificate: good))
        #expect(ok.handshake())
        #expect(ok.server.clientCertificate?.subjectDN == "CN=good-device")
    }

    @Test func reloadSwapsTheCertificateForNewSessionsOnly() throws {
        let first = TestPKI.issue([("CN", "first")], issuer: ca)
        let second = TestPKI.issue([("CN", "second")], issuer: ca)
        let ctx = try context([(nil, first)])
        let established = TLSPair(context: ctx)
        #expect(established.handshake())
        let startedBefore = TLSPair(context: ctx)  // session made, handshake not yet run

        dir.write("cert0.pem", second.certPEM)
        dir.write("key0.pem", second.keyPEM)
        try ctx.reload()
        #expect(ctx.defaultCertificateFingerprint == second.fingerprint)

        let fresh = TLSPair(context: ctx)
        #expect(fresh.handshake())
        #expect(fresh.client.peerFingerprint == second.fingerprint)
        #expect(startedBefore.handshake())
        #expect(startedBefore.client.peerFingerprint == first.fingerprint)
        #expect(established.client.peerFingerprint == first.fingerprint)
        #expect(roundTrip(established, Array("still here".utf8)) == Array("still here".utf8))

        // A broken file: the error names it and the running certificate stays.
        dir.write("key0.pem", "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
        #expect(throws: TLSContextError.self) { try ctx.reload() }
        do { try ctx.reload() } catch { #expect(error.description.contains("key0.pem")) }
        let after = TLSPair(context: ctx)
        #expect(after.handshake())
        #expect(after.client.peerFingerprint == second.fingerprint)
    }

    @Test func configurationErrorsNameTheFile() throws {
        let leaf = TestPKI.issue([("CN", "x")], issuer: ca)
        let other = TestPKI.issue([("CN", "y")], issuer: ca)
        let cert = dir.write("c.pem", leaf.certPEM)
        let wrongKey = dir.write("k.pem", other.keyPEM)
        func error(_ settings: TLSServerSettings) -> String {
            do { _ = try TLSServerContext(settings: settings); return "" } catch { return error.description }
        }
        #expect(error(TLSServerSettings(certificates: [])).contains("no certificate"))
        #expect(error(TLSServerSettings(certificates: [.init(certificatePath: dir.url.path + "/missing.pem", privateKey: wrongKey)])).contains("missing.pem"))
        #expect(error(TLSServerSettings(certificates: [.init(certificatePath: cert, privateKey: wrongKey)])).contains("k.pem"))
        #expect(error(TLSServerSettings(certificates: [.init(certificatePath: cert, privateKey: wrongKey)])).contains("mismatch"))
        #expect(error(TLSServerSettings(certificates: [.init(certificatePath: cert, privateKey: leaf.keyPEM)], crlPath: cert)).contains("client_ca"))
        // Inline PEM key works.
        #expect(error(TLSServerSettings(certificates: [.init(certificatePath: cert, privateKey: leaf.keyPEM)])) == "")
        // Extra certificates need a server name.
        #expect(error(TLSServerSettings(certificates: [.init(certificatePath: cert, privateKey: leaf.keyPEM),
                                                       .init(certificatePath: cert, privateKey: leaf.keyPEM)])).contains("server_name"))
    }

    @Test func closeNotifyBothWays() throws {
        let pair = TLSPair(context: try context())
        #expect(pair.handshake())
        pair.server.sendCloseNotify()
        pair.serverToClient()
        #expect(pair.client.read() == nil)  // zero return: close_notify seen
        #expect(SSL_get_shutdown(pair.client.ssl) & SSL_RECEIVED_SHUTDOWN != 0)
        _ = SSL_shutdown(pair.client.ssl)
        pair.clientToServer()
        #expect(pair.serverResult == .closed)
    }
}

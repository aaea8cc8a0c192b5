import COpenSSL
import Testing
@testable import PetrelLoop

/// After a TLS 1.3 handshake the session frees its `SSL` and protects records itself
/// (TLS13RecordLayer); OpenSSL's client on the other side is the judge of every record.
@Suite struct TLS13RecordLayerTests {
    let dir = TempDir()
    let ca = TestPKI.issue([("CN", "Petrel Test CA")], isCA: true)

    func context(clientCA: TestPKI.Issued? = nil) throws -> TLSServerContext {
        let leaf = TestPKI.issue([("CN", "default.test")], issuer: ca)
        let source = TLSCertificateSource(certificatePath: dir.write("cert.pem", leaf.certPEM),
                                          privateKey: dir.write("key.pem", leaf.keyPEM))
        return try TLSServerContext(settings: TLSServerSettings(
            certificates: [source], clientCAPath: clientCA.map { dir.write("client-ca.pem", $0.certPEM) }))
    }

    func roundTrip(_ pair: TLSPair, _ message: [UInt8]) -> [UInt8]? {
        pair.client.write(message)
        var echoed: [UInt8] = []
        for _ in 0..<100 where echoed.count < message.count {
            pair.clientToServer()
            pair.serverToClient()
            guard let got = pair.client.read() else { return nil }
            echoed += got
        }
        return echoed
    }

    @Test(arguments: ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"])
    func everySuiteRunsWithoutTheSSLObject(suite: String) throws {
        let pair = TLSPair(context: try context(), client: .init(minVersion: TLS1_3_VERSION, trust: ca))
        #expect(SSL_set_ciphersuites(pair.client.ssl, suite) == 1)
        #expect(pair.handshake())
        #expect(pair.server.records != nil)
        #expect(pair.server.protocolVersion == "TLSv1.3")
        for size in [0, 1, 16_384, 16_385, 100_000] {
            let message = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            if size > 0 { #expect(roundTrip(pair, message) == message, "\(suite) size \(size)") }
        }
    }

    @Test func tls12KeepsOpenSSL() throws {
        let pair = TLSPair(context: try context(), client: .init(maxVersion: TLS1_2_VERSION, trust: ca))
        #expect(pair.handshake())
        #expect(pair.server.records == nil)
        #expect(roundTrip(pair, Array("hello".utf8)) == Array("hello".utf8))
    }

    @Test func negotiatedDetailsAndTheClientCertificateOutliveTheSSLObject() throws {
        let client = TestPKI.issue([("CN", "device-7")], issuer: ca, serial: [0x2A])
        let pair = TLSPair(context: try context(clientCA: ca),
                           client: .init(minVersion: TLS1_3_VERSION, alpn: ["http/1.1"], serverName: "api.test",
                                         certificate: client, trust: ca))
        #expect(pair.handshake())
        #expect(pair.server.records != nil)
        #expect(pair.server.negotiatedProtocol == "http/1.1")
        #expect(pair.server.serverName == "api.test")
        #expect(pair.server.clientCertificate?.subjectDN == "CN=device-7")
    }

    @Test func keyUpdateFromTheClientIsAnsweredWhenRequested() throws {
        let pair = TLSPair(context: try context(), client: .init(minVersion: TLS1_3_VERSION, trust: ca))
        #expect(pair.handshake())
        for request in [Int32(SSL_KEY_UPDATE_NOT_REQUESTED), Int32(SSL_KEY_UPDATE_REQUESTED), Int32(SSL_KEY_UPDATE_REQUESTED)] {
            #expect(SSL_key_update(pair.client.ssl, request) == 1)
            // The client's next write carries its KeyUpdate; if the server did not follow (or
            // answered wrongly), the echo would not decrypt on either side.
            #expect(roundTrip(pair, Array("after update \(request)".utf8)) == Array("after update \(request)".utf8))
        }
        #expect(pair.serverResult == .ok)
    }

    @Test func theServerRotatesItsOwnWriteKeyWhenWornOut() throws {
        let pair = TLSPair(context: try context(), client: .init(minVersion: TLS1_3_VERSION, trust: ca))
        #expect(pair.handshake())
        pair.server.records?.writeRecordsPerKey = 3
        for i in 0..<10 {
            #expect(roundTrip(pair, Array("message \(i)".utf8)) == Array("message \(i)".utf8))
        }
    }

    @Test func aTamperedRecordFailsWithBadRecordMAC() throws {
        let pair = TLSPair(context: try context(), client: .init(minVersion: TLS1_3_VERSION, trust: ca))
        #expect(pair.handshake())
        pair.client.write(Array("hello".utf8))
        var record = pair.client.takeOutput()
        record[record.count - 3] ^= 0x40
        let plaintext = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 16)
        defer { plaintext.deallocate() }
        let result = record.withUnsafeMutableBytes { pair.server.feed($0, plaintext: plaintext) { _ in true } }
        #expect(result == .failed)
        #expect(pair.server.failureReason == "bad record MAC")
        // The client gets a fatal bad_record_mac alert.
        #expect(pair.serverToClient())
        #expect(pair.client.read() == nil)
    }

    @Test func oversizedAndUnprotectedRecordsAreRefused() throws {
        for bytes: [UInt8] in [[23, 3, 3, 0x48, 0x01], [21, 3, 3, 0, 2, 1, 0], [20, 3, 3, 0, 1, 1], [23, 3, 3, 0, 3, 1, 2, 3]] {
            let pair = TLSPair(context: try context(), client: .init(minVersion: TLS1_3_VERSION, trust: ca))
            #expect(pair.handshake())
            var input = bytes
            let plaintext = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 16)
            defer { plaintext.deallocate() }
            #expect(input.withUnsafeMutableBytes { pair.server.feed($0, plaintext: plaintext) { _ in true } } == .failed, "\(bytes)")
        }
    }

    @Test func closeNotifyBothWaysWithoutTheSSLObject() throws {
        let pair = TLSPair(context: try context(), client: .init(minVersion: TLS1_3_VERSION, trust: ca))
        #expect(pair.handshake())
        #expect(pair.server.records != nil)
        pair.server.sendCloseNotify()
        pair.serverToClient()
        #expect(pair.client.read() == nil)
        #expect(SSL_get_shutdown(pair.client.ssl) & SSL_RECEIVED_SHUTDOWN != 0)
        _ = SSL_shutdown(pair.client.ssl)
        pair.clientToServer()
        #expect(pair.serverResult == .closed)
    }

    @Test func sessionTicketsStillResume() throws {
        let ctx = try context()
        let first = TLSPair(context: ctx, client: .init(minVersion: TLS1_3_VERSION, trust: ca))
        #expect(first.handshake())
        #expect(roundTrip(first, Array("x".utf8)) == Array("x".utf8))  // the client reads the ticket
        let session = try #require(SSL_get1_session(first.client.ssl))
        defer { SSL_SESSION_free(session) }
        let second = TLSPair(context: ctx, client: .init(minVersion: TLS1_3_VERSION, trust: ca))
        #expect(SSL_set_session(second.client.ssl, session) == 1)
        #expect(second.handshake())
        #expect(SSL_session_reused(second.client.ssl) == 1)
        #expect(roundTrip(second, Array("resumed".utf8)) == Array("resumed".utf8))
    }
}

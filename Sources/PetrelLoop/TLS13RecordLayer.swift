import COpenSSL

/// TLS 1.3 record protection (RFC 8446 §5) for an established connection, so that its `SSL`
/// object can be freed once the handshake is over.
///
/// Why: an idle OpenSSL 3.0 server connection keeps ≈ 13.8 KB of handshake-era state (the 7.6 KB
/// `SSL` struct, session, certificate, key shares, transcript hashes). What a TLS 1.3 connection
/// needs afterwards is two traffic secrets, two AEAD contexts and two sequence numbers. OpenSSL
/// still does everything that needs judgement (handshake, certificates, tickets); this type only
/// seals and opens records with the keys the handshake produced, and handles the three things a
/// peer may send afterwards: application data, alerts and KeyUpdate (§4.6.3).
///
/// Not thread-safe: it lives on its session's loop.
final class TLS13RecordLayer {
    enum Suite {
        case aes128GCM, aes256GCM, chacha20Poly1305

        /// From the IANA id of the negotiated TLS 1.3 cipher suite; nil for ones we leave to OpenSSL.
        init?(id: UInt16) {
            switch id {
            case 0x1301: self = .aes128GCM
            case 0x1302: self = .aes256GCM
            case 0x1303: self = .chacha20Poly1305
            default: return nil
            }
        }

        var hashLength: Int { self == .aes256GCM ? 48 : 32 }
        var keyLength: Int { self == .aes128GCM ? 16 : 32 }
        var digest: OpaquePointer { self == .aes256GCM ? Algorithms.sha384 : Algorithms.sha256 }
        var cipher: OpaquePointer {
            switch self {
            case .aes128GCM: return Algorithms.aes128GCM
            case .aes256GCM: return Algorithms.aes256GCM
            case .chacha20Poly1305: return Algorithms.chacha20Poly1305
            }
        }
    }

    /// Fetched once: OpenSSL 3 looks an algorithm up by name (under a lock) every time a legacy
    /// `EVP_sha256()`-style handle is used, which cost more than the work itself here.
    private enum Algorithms {
        nonisolated(unsafe) static let sha256 = fetchDigest("SHA256")
        nonisolated(unsafe) static let sha384 = fetchDigest("SHA384")
        nonisolated(unsafe) static let aes128GCM = fetchCipher("AES-128-GCM")
        nonisolated(unsafe) static let aes256GCM = fetchCipher("AES-256-GCM")
        nonisolated(unsafe) static let chacha20Poly1305 = fetchCipher("ChaCha20-Poly1305")

        static func fetchDigest(_ name: String) -> OpaquePointer {
            guard let md = EVP_MD_fetch(nil, name, nil) else { fatalError("OpenSSL has no \(name)") }
            return md
        }

        static func fetchCipher(_ name: String) -> OpaquePointer {
            guard let cipher = EVP_CIPHER_fetch(nil, name, nil) else { fatalError("OpenSSL has no \(name)") }
            return cipher
        }
    }

    /// What one protected record turned out to carry.
    enum Opened {
        /// Application data, `count` bytes at the start of the record's body.
        case data(count: Int)
        case closeNotify
        /// Handled inside (a KeyUpdate, a user_canceled alert); nothing for the caller.
        case nothing
        /// The connection must end; `alert` is the description to send back, if any.
        case failure(reason: String, alert: UInt8?)
    }

    static let headerLength = 5
    static let tagLength = 16
    /// RFC 8446 §5.2: at most 2^14 bytes of plaintext, 2^14 + 256 of ciphertext per record.
    static let maxPlaintext = 16_384
    static let maxCiphertext = 16_384 + 256
    /// Records sealed under one key before we rotate it ourselves: under the AES-GCM limit of
    /// 2^24.5 records per key (RFC 8446 §5.5), and irrelevant to any shorter-lived connection.
    var writeRecordsPerKey: UInt64 = 1 << 24

    private let suite: Suite
    private let opener: OpaquePointer  // EVP_CIPHER_CTX*
    private let sealer: OpaquePointer
    /// Current traffic secrets (needed for the next KeyUpdate) and IVs, in one allocation:
    /// [read secret | write secret | read iv | write iv].
    private let material: UnsafeMutableRawPointer
    private var readSequence: UInt64 = 0
    private var writeSequence: UInt64

    private var readSecret: UnsafeMutableRawPointer { material }
    private var writeSecret: UnsafeMutableRawPointer { material + suite.hashLength }
    private var readIV: UnsafeMutableRawPointer { material + 2 * suite.hashLength }
    private var writeIV: UnsafeMutableRawPointer { material + 2 * suite.hashLength + 12 }
    private var materialLength: Int { 2 * suite.hashLength + 24 }

    /// `clientSecret`/`serverSecret`: the `*_TRAFFIC_SECRET_0` of the handshake;
    /// `recordsAlreadyWritten`: protected records OpenSSL sent under the server's secret (tickets).
    init?(suite: Suite, clientSecret: UnsafeRawBufferPointer, serverSecret: UnsafeRawBufferPointer,
          recordsAlreadyWritten: UInt64) {
        guard clientSecret.count == suite.hashLength, serverSecret.count == suite.hashLength,
              let opener = EVP_CIPHER_CTX_new() else { return nil }
        guard let sealer = EVP_CIPHER_CTX_new() else {
            EVP_CIPHER_CTX_free(opener)
            return nil
        }
        self.suite = suite
        self.opener = opener
        self.sealer = sealer
        writeSequence = recordsAlreadyWritten
        material = UnsafeMutableRawPointer.allocate(byteCount: 2 * suite.hashLength + 24, alignment: 8)
        material.copyMemory(from: clientSecret.baseAddress!, byteCount: suite.hashLength)
        writeSecret.copyMemory(from: serverSecret.baseAddress!, byteCount: suite.hashLength)
        guard EVP_DecryptInit_ex(opener, suite.cipher, nil, nil, nil) == 1,
              EVP_EncryptInit_ex(sealer, suite.cipher, nil, nil, nil) == 1,
              installKey(read: true), installKey(read: false) else { return nil }
    }

    deinit {
        OPENSSL_cleanse(material, materialLength)
        material.deallocate()
        EVP_CIPHER_CTX_free(opener)
        EVP_CIPHER_CTX_free(sealer)
    }

    // MARK: Keys

    /// Derives key and IV from the direction's current secret (RFC 8446 §7.3) into its context.
    private func installKey(read: Bool) -> Bool {
        let secret = read ? readSecret : writeSecret
        var key = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        defer { withUnsafeMutableBytes(of: &key) { OPENSSL_cleanse($0.baseAddress, $0.count) } }
        return withUnsafeMutableBytes(of: &key) { keyBytes -> Bool in
            let secretBytes = UnsafeRawBufferPointer(start: secret, count: suite.hashLength)
            guard TLS13KeySchedule.expandLabel(suite.digest, secret: secretBytes, label: "key",
                                               into: UnsafeMutableRawBufferPointer(rebasing: keyBytes[..<suite.keyLength])),
                  TLS13KeySchedule.expandLabel(suite.digest, secret: secretBytes, label: "iv",
                                               into: UnsafeMutableRawBufferPointer(start: read ? readIV : writeIV, count: 12))
            else { return false }
            let keyPointer = keyBytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
            return read ? EVP_DecryptInit_ex(opener, nil, nil, keyPointer, nil) == 1
                        : EVP_EncryptInit_ex(sealer, nil, nil, keyPointer, nil) == 1
        }
    }

    /// secret' = HKDF-Expand-Label(secret, "traffic upd", "", Hash.length), then new key and IV.
    private func updateKey(read: Bool) -> Bool {
        let secret = read ? readSecret : writeSecret
        var next = [UInt8](repeating: 0, count: suite.hashLength)
        defer { OPENSSL_cleanse(&next, next.count) }
        let ok = next.withUnsafeMutableBytes {
            TLS13KeySchedule.expandLabel(suite.digest, secret: UnsafeRawBufferPointer(start: secret, count: suite.hashLength),
                                         label: "traffic upd", into: $0)
        }
        guard ok else { return false }
        secret.copyMemory(from: next, byteCount: suite.hashLength)
        if read { readSequence = 0 } else { writeSequence = 0 }
        return installKey(read: read)
    }

    private static func nonce(_ iv: UnsafeMutableRawPointer, _ sequence: UInt64) -> (UInt64, UInt32) {
        // The per-record nonce: the IV XOR the 64-bit sequence number, right-aligned (§5.3).
        var nonce: (UInt64, UInt32) = (0, 0)
        withUnsafeMutableBytes(of: &nonce) { bytes in
            bytes.copyMemory(from: UnsafeRawBufferPointer(start: iv, count: 12))
            var big = sequence.bigEndian
            withUnsafeBytes(of: &big) { seq in
                for i in 0..<8 { bytes[4 + i] ^= seq[i] }
            }
        }
        return nonce
    }

    // MARK: Sealing

    /// Room a sealed record of `plaintext` bytes needs.
    static func sealedLength(_ plaintext: Int) -> Int { headerLength + plaintext + 1 + tagLength }

    /// Seals `plaintext` (≤ `maxPlaintext` bytes) as one record of `contentType` into `out`
    /// (`sealedLength` bytes). Returns the record's length, or nil if OpenSSL failed.
    func seal(_ contentType: UInt8, _ plaintext: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer) -> Int? {
        let body = plaintext.count + 1
        let length = body + Self.tagLength
        out.storeBytes(of: 23, as: UInt8.self)  // opaque_type application_data
        out.storeBytes(of: 0x03, toByteOffset: 1, as: UInt8.self)
        out.storeBytes(of: 0x03, toByteOffset: 2, as: UInt8.self)
        out.storeBytes(of: UInt8(length >> 8), toByteOffset: 3, as: UInt8.self)
        out.storeBytes(of: UInt8(length & 0xFF), toByteOffset: 4, as: UInt8.self)
        let bodyStart = out + Self.headerLength
        if plaintext.count > 0 { bodyStart.copyMemory(from: plaintext.baseAddress!, byteCount: plaintext.count) }
        bodyStart.storeBytes(of: contentType, toByteOffset: plaintext.count, as: UInt8.self)
        var nonce = Self.nonce(writeIV, writeSequence)
        let bytes = bodyStart.assumingMemoryBound(to: UInt8.self)
        var produced: Int32 = 0
        let ok = withUnsafeBytes(of: &nonce) { EVP_EncryptInit_ex(sealer, nil, nil, nil, $0.baseAddress!.assumingMemoryBound(to: UInt8.self)) } == 1
            && EVP_EncryptUpdate(sealer, nil, &produced, out.assumingMemoryBound(to: UInt8.self), Int32(Self.headerLength)) == 1
            && EVP_EncryptUpdate(sealer, bytes, &produced, bytes, Int32(body)) == 1
            && EVP_EncryptFinal_ex(sealer, bytes + Int(produced), &produced) == 1
            && EVP_CIPHER_CTX_ctrl(sealer, EVP_CTRL_AEAD_GET_TAG, Int32(Self.tagLength), bodyStart + body) == 1
        guard ok else { return nil }
        writeSequence += 1
        return Self.headerLength + length
    }

    /// After a record was sealed: true when the write key has been used long enough that a
    /// KeyUpdate should go out before the next record.
    var writeKeyIsWornOut: Bool { writeSequence >= writeRecordsPerKey }

    /// Seals a KeyUpdate (§4.6.3) under the current write key, then moves to the next write key.
    func sealKeyUpdate(requestingPeerUpdate: Bool, into out: UnsafeMutableRawPointer) -> Int? {
        let message: [UInt8] = [24, 0, 0, 1, requestingPeerUpdate ? 1 : 0]
        guard let n = message.withUnsafeBytes({ seal(22, $0, into: out) }), updateKey(read: false) else { return nil }
        return n
    }

    // MARK: Opening

    /// Opens one whole record (header included) in place. The plaintext of application data is
    /// left at `record + headerLength`.
    func open(_ record: UnsafeMutableRawPointer, length: Int) -> Opened {
        let header = UnsafeRawBufferPointer(start: record, count: Self.headerLength)
        guard header[0] == 23 else {
            // After the handshake every record is protected; a bare change_cipher_spec, alert or
            // handshake record here is a peer out of step (§5).
            return .failure(reason: "unprotected record (type \(header[0])) after the handshake", alert: 10)
        }
        let sealedLength = length - Self.headerLength
        guard sealedLength > Self.tagLength else { return .failure(reason: "record too short", alert: 50) }
        guard sealedLength <= Self.maxCiphertext else { return .failure(reason: "record overflow", alert: 22) }
        let body = record + Self.headerLength
        let bodyLength = sealedLength - Self.tagLength
        var nonce = Self.nonce(readIV, readSequence)
        let bytes = body.assumingMemoryBound(to: UInt8.self)
        var produced: Int32 = 0
        let ok = withUnsafeBytes(of: &nonce) { EVP_DecryptInit_ex(opener, nil, nil, nil, $0.baseAddress!.assumingMemoryBound(to: UInt8.self)) } == 1
            && EVP_DecryptUpdate(opener, nil, &produced, record.assumingMemoryBound(to: UInt8.self), Int32(Self.headerLength)) == 1
            && EVP_DecryptUpdate(opener, bytes, &produced, bytes, Int32(bodyLength)) == 1
            && EVP_CIPHER_CTX_ctrl(opener, EVP_CTRL_AEAD_SET_TAG, Int32(Self.tagLength), body + bodyLength) == 1
            && EVP_DecryptFinal_ex(opener, bytes + Int(produced), &produced) == 1
        ERR_clear_error()
        guard ok else { return .failure(reason: "bad record MAC", alert: 20) }
        readSequence += 1
        // TLSInnerPlaintext: content, content type, zero padding (§5.2).
        var end = bodyLength
        while end > 0 && bytes[end - 1] == 0 { end -= 1 }
        guard end > 0 else { return .failure(reason: "record without a content type", alert: 10) }
        let contentType = bytes[end - 1]
        let content = end - 1
        guard content <= Self.maxPlaintext else { return .failure(reason: "record overflow", alert: 22) }
        switch contentType {
        case 23:
            return .data(count: content)
        case 21:
            guard content == 2 else { return .failure(reason: "malformed alert", alert: 50) }
            switch bytes[1] {
            case 0: return .closeNotify
            case 90: return .nothing  // user_canceled: a close_notify follows
            default: return .failure(reason: "alert \(bytes[1]) received", alert: nil)
            }
        case 22:
            return handshakeMessage(UnsafeBufferPointer(start: bytes, count: content))
        default:
            return .failure(reason: "unexpected content type \(contentType)", alert: 10)
        }
    }

    /// The peer may send only KeyUpdate after the handshake (a server asks for no client
    /// certificate later, and clients send no tickets). Each must end its record: a handshake
    /// message may not span a key change (§5.1).
    private var pendingKeyUpdateReply = false

    private func handshakeMessage(_ bytes: UnsafeBufferPointer<UInt8>) -> Opened {
        guard bytes.count == 5, bytes[0] == 24, bytes[1] == 0, bytes[2] == 0, bytes[3] == 1 else {
            return .failure(reason: "unexpected post-handshake message (type \(bytes.first ?? 0))", alert: 10)
        }
        switch bytes[4] {
        case 0: break
        case 1: pendingKeyUpdateReply = true
        default: return .failure(reason: "KeyUpdate with request_update \(bytes[4])", alert: 47)
        }
        guard updateKey(read: true) else { return .failure(reason: "key update failed", alert: 80) }
        return .nothing
    }

    /// True once per KeyUpdate that asked for ours: the caller seals one before its next record.
    func takeKeyUpdateRequest() -> Bool {
        defer { pendingKeyUpdateReply = false }
        return pendingKeyUpdateReply
    }
}

/// The TLS 1.3 key schedule's HKDF-Expand-Label (RFC 8446 §7.1) for outputs no longer than one
/// hash (keys, IVs, updated secrets): one HMAC.
enum TLS13KeySchedule {
    static func expandLabel(_ digest: OpaquePointer, secret: UnsafeRawBufferPointer, label: String,
                            into out: UnsafeMutableRawBufferPointer) -> Bool {
        // HkdfLabel: length, "tls13 " + label, empty context; then HKDF-Expand's counter 0x01.
        var info: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        let infoLength = withUnsafeMutableBytes(of: &info) { bytes -> Int in
            bytes[0] = UInt8(out.count >> 8)
            bytes[1] = UInt8(out.count & 0xFF)
            var n = 3
            for byte in "tls13 ".utf8 { bytes[n] = byte; n += 1 }
            for byte in label.utf8 { bytes[n] = byte; n += 1 }
            bytes[2] = UInt8(n - 3)
            bytes[n] = 0
            bytes[n + 1] = 1
            return n + 2
        }
        var mac = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        defer { withUnsafeMutableBytes(of: &mac) { OPENSSL_cleanse($0.baseAddress, $0.count) } }
        return withUnsafeBytes(of: &info) { infoBytes in
            withUnsafeMutableBytes(of: &mac) { macBytes in
                guard let length = hmac(digest, key: secret, message: UnsafeRawBufferPointer(rebasing: infoBytes[..<infoLength]),
                                        into: macBytes), length >= out.count else { return false }
                out.copyMemory(from: UnsafeRawBufferPointer(rebasing: macBytes[..<out.count]))
                return true
            }
        }
    }

    /// HMAC (RFC 2104) from two digests with an already fetched hash, for keys no longer than the
    /// hash's block (traffic secrets always are). `out` holds at least 64 bytes.
    static func hmac(_ digest: OpaquePointer, key: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer,
                     into out: UnsafeMutableRawBufferPointer) -> Int? {
        let block = Int(EVP_MD_get_block_size(digest))
        guard key.count <= block, block <= 128, let ctx = EVP_MD_CTX_new() else { return nil }
        defer { EVP_MD_CTX_free(ctx) }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 128) { pad -> Int? in
            defer { OPENSSL_cleanse(pad.baseAddress, 128) }
            func keyed(_ byte: UInt8) {
                for i in 0..<block { pad[i] = (i < key.count ? key[i] : 0) ^ byte }
            }
            var length: UInt32 = 0
            let outBytes = out.baseAddress!.assumingMemoryBound(to: UInt8.self)
            keyed(0x36)
            guard EVP_DigestInit_ex(ctx, digest, nil) == 1, EVP_DigestUpdate(ctx, pad.baseAddress, block) == 1,
                  EVP_DigestUpdate(ctx, message.baseAddress, message.count) == 1,
                  EVP_DigestFinal_ex(ctx, outBytes, &length) == 1 else { return nil }
            keyed(0x5C)
            guard EVP_DigestInit_ex(ctx, digest, nil) == 1, EVP_DigestUpdate(ctx, pad.baseAddress, block) == 1,
                  EVP_DigestUpdate(ctx, outBytes, Int(length)) == 1,
                  EVP_DigestFinal_ex(ctx, outBytes, &length) == 1 else { return nil }
            return Int(length)
        }
    }

    /// `<LABEL> <client random hex> <secret hex>` from OpenSSL's key log: the secret, for the two
    /// labels the record layer needs, else nil. Parsed from the C string itself, so the secret
    /// is copied once, into the caller's buffer.
    static func trafficSecret(fromKeyLogLine line: UnsafePointer<CChar>, into out: inout [UInt8]) -> Bool? {
        let bytes = UnsafeRawBufferPointer(start: line, count: strlen(line))
        let isServer: Bool
        if bytes.starts(with: "SERVER_TRAFFIC_SECRET_0 ".utf8) {
            isServer = true
        } else if bytes.starts(with: "CLIENT_TRAFFIC_SECRET_0 ".utf8) {
            isServer = false
        } else {
            return nil
        }
        guard let lastSpace = bytes.lastIndex(of: UInt8(ascii: " ")) else { return nil }
        let hex = bytes[(lastSpace + 1)...]
        guard hex.count % 2 == 0, hex.count <= 2 * 48 else { return nil }
        out.removeAll(keepingCapacity: true)
        var high: UInt8?
        for c in hex {
            let v: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = c - UInt8(ascii: "A") + 10
            default: return nil
            }
            if let h = high { out.append(h << 4 | v); high = nil } else { high = v }
        }
        return isServer
    }
}

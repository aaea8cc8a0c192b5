import COpenSSL

/// A verified client certificate (mTLS) in the shape API Gateway hands to integrations as
/// `requestContext.identity.clientCert`:
///
///     {"clientCertPem": "-----BEGIN CERTIFICATE-----\n...", "subjectDN": "CN=device-1,O=Acme",
///      "issuerDN": "CN=Acme Devices CA", "serialNumber": "1f:0a:...",
///      "validity": {"notBefore": "May 28 12:30:02 2019 GMT", "notAfter": "Aug  5 09:36:04 2021 GMT"}}
public struct ClientCertificateInfo: Sendable, Equatable {
    /// The leaf certificate, PEM (with its trailing newline).
    public var clientCertPem: String
    /// RFC 2253 order and escaping (most specific first, `CN=...,O=...,C=...`), UTF-8 kept.
    public var subjectDN: String
    public var issuerDN: String
    /// The serial number's bytes as lowercase hex pairs joined by colons.
    public var serialNumber: String
    /// `MMM dd HH:mm:ss yyyy GMT`, day padded with a space, as OpenSSL prints it.
    public var validityNotBefore: String
    public var validityNotAfter: String

    public init(clientCertPem: String, subjectDN: String, issuerDN: String, serialNumber: String,
                validityNotBefore: String, validityNotAfter: String) {
        self.clientCertPem = clientCertPem
        self.subjectDN = subjectDN
        self.issuerDN = issuerDN
        self.serialNumber = serialNumber
        self.validityNotBefore = validityNotBefore
        self.validityNotAfter = validityNotAfter
    }

    /// Reads the fields of an `X509*` (not retained).
    init(_ cert: OpaquePointer) {
        clientCertPem = Self.printed { PEM_write_bio_X509($0, cert) == 1 }
        subjectDN = Self.printed { X509_NAME_print_ex($0, X509_get_subject_name(cert), 0, petrel_XN_FLAG_RFC2253_UTF8) >= 0 }
        issuerDN = Self.printed { X509_NAME_print_ex($0, X509_get_issuer_name(cert), 0, petrel_XN_FLAG_RFC2253_UTF8) >= 0 }
        validityNotBefore = Self.printed { ASN1_TIME_print($0, X509_get0_notBefore(cert)) == 1 }
        validityNotAfter = Self.printed { ASN1_TIME_print($0, X509_get0_notAfter(cert)) == 1 }
        serialNumber = Self.serial(X509_get0_serialNumber(cert))
    }

    private static func printed(_ body: (OpaquePointer) -> Bool) -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { return "" }
        defer { BIO_free(bio) }
        guard body(bio) else {
            ERR_clear_error()
            return ""
        }
        var data: UnsafeMutablePointer<CChar>?
        let length = petrel_BIO_get_mem_data(bio, &data)
        guard let data, length > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    }

    private static func serial(_ integer: UnsafePointer<ASN1_INTEGER>?) -> String {
        guard let integer, let data = ASN1_STRING_get0_data(integer) else { return "" }
        let count = Int(ASN1_STRING_length(integer))
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(count * 3)
        for i in 0..<count {
            if i > 0 { out.append(UInt8(ascii: ":")) }
            out.append(digits[Int(data[i] >> 4)])
            out.append(digits[Int(data[i] & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

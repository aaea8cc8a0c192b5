/// Incremental, fail-fast UTF-8 validation (RFC 3629 §4).
///
/// WebSocket text messages must be valid UTF-8 (RFC 6455 §5.6, §8.1) and a server should fail the
/// connection as soon as it sees an invalid byte, even in the middle of a fragment. The validator
/// therefore keeps only the state of the one multi-byte sequence that may be open between calls.
///
/// Rejected: overlong forms (C0, C1, E0 80-9F, F0 80-8F), UTF-16 surrogates (ED A0-BF), code points
/// above U+10FFFF (F4 90-BF, F5-FF), stray continuation bytes and truncated sequences.
public struct UTF8Validator: Sendable {
    /// Continuation bytes still expected for the open sequence; 0 means "at a boundary".
    private var pendingContinuationBytes: UInt8 = 0
    /// Range the next continuation byte must fall in. Only the second byte of a sequence can be narrower
    /// than 80...BF; that narrowing is what rules out overlongs, surrogates and > U+10FFFF (RFC 3629 §4).
    private var nextLowerBound: UInt8 = 0x80
    private var nextUpperBound: UInt8 = 0xBF
    /// Sticky: once the bytes cannot be a prefix of valid UTF-8, no later bytes can fix that.
    private var hasFailed = false

    public init() {}

    /// Feeds more bytes; returns false as soon as the bytes so far cannot be a prefix of valid UTF-8.
    @inlinable
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Bool {
        feedBytes(bytes)
    }

    /// True when no multi-byte sequence is left open (a text message may end here).
    public var isAtBoundary: Bool { pendingContinuationBytes == 0 && !hasFailed }

    public mutating func reset() { self = UTF8Validator() }

    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var validator = UTF8Validator()
        return validator.feed(bytes) && validator.isAtBoundary
    }

    @usableFromInline
    internal mutating func feedBytes(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if hasFailed { return false }
        guard let base = bytes.baseAddress else { return true }
        let count = bytes.count
        var index = 0
        while index < count {
            if pendingContinuationBytes == 0 {
                // ASCII dominates real traffic: test 8 bytes per step while no sequence is open.
                while index &+ 8 <= count {
                    let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                    if word & 0x8080_8080_8080_8080 != 0 { break }
                    index &+= 8
                }
                if index == count { break }
                let byte = base.load(fromByteOffset: index, as: UInt8.self)
                index &+= 1
                if byte < 0x80 { continue }
                if !openSequence(leadByte: byte) {
                    hasFailed = true
                    return false
                }
            } else {
                let byte = base.load(fromByteOffset: index, as: UInt8.self)
                index &+= 1
                guard byte >= nextLowerBound, byte <= nextUpperBound else {
                    hasFailed = true
                    return false
                }
                pendingContinuationBytes &-= 1
                nextLowerBound = 0x80
                nextUpperBound = 0xBF
            }
        }
        return true
    }

    /// Sets the expectations for the bytes after a lead byte, following the table of RFC 3629 §4.
    private mutating func openSequence(leadByte: UInt8) -> Bool {
        switch leadByte {
        case 0xC2...0xDF: expect(1, 0x80, 0xBF)
        case 0xE0: expect(2, 0xA0, 0xBF)               // E0 80-9F would be overlong
        case 0xE1...0xEC, 0xEE...0xEF: expect(2, 0x80, 0xBF)
        case 0xED: expect(2, 0x80, 0x9F)               // ED A0-BF encodes surrogates D800-DFFF
        case 0xF0: expect(3, 0x90, 0xBF)               // F0 80-8F would be overlong
        case 0xF1...0xF3: expect(3, 0x80, 0xBF)
        case 0xF4: expect(3, 0x80, 0x8F)               // F4 90+ is above U+10FFFF
        default: return false                          // 80-C1 (stray or overlong), F5-FF
        }
        return true
    }

    private mutating func expect(_ continuationBytes: UInt8, _ lower: UInt8, _ upper: UInt8) {
        pendingContinuationBytes = continuationBytes
        nextLowerBound = lower
        nextUpperBound = upper
    }
}

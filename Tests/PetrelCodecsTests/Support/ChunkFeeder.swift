/// The ways a test feeds a decoder: every decoder and parser case runs under each of them, because
/// a state machine that passes "whole" can still break at any split point.
enum FeedMode: String, CaseIterable, CustomStringConvertible {
    /// Each unit (frame or request) arrives in its own read.
    case unitPerRead
    /// One byte per read: every split point is exercised.
    case byteByByte
    /// All units arrive in one read (pipelining, several frames per read).
    case allInOneRead
    /// Reads of 1, 2, 3, 5, 7, 11 and 13 bytes in turn, splits falling everywhere else.
    case irregularSplits

    var description: String { rawValue }

    /// Cuts `units` into the reads this mode delivers.
    func reads(of units: [[UInt8]]) -> [[UInt8]] {
        switch self {
        case .unitPerRead:
            return units
        case .byteByByte:
            return units.flatMap { $0 }.map { [$0] }
        case .allInOneRead:
            return [units.flatMap { $0 }]
        case .irregularSplits:
            let all = units.flatMap { $0 }
            let sizes = [1, 2, 3, 5, 7, 11, 13]
            var reads: [[UInt8]] = []
            var start = 0
            var turn = 0
            while start < all.count {
                let end = Swift.min(all.count, start + sizes[turn % sizes.count])
                reads.append(Array(all[start..<end]))
                start = end
                turn += 1
            }
            return reads
        }
    }
}

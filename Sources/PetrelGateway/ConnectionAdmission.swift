import PetrelLoop
import Synchronization

/// Node-wide counts of open WebSockets, in total and per client address, shared by every loop
/// (SO_REUSEPORT spreads one client's connections over them). A handshake reserves a place
/// before the 101 and the close gives it back, so the caps (`max_connections`,
/// `max_connections_per_ip`) hold across loops; past either the handshake gets 503.
final class ConnectionAdmission: Sendable {
    enum Decision: Equatable {
        case admitted
        /// `max_connections`: the node is full.
        case nodeFull
        /// `max_connections_per_ip`: this client has its share.
        case addressFull
    }

    private struct Counts {
        var total = 0
        var perAddress: [IPAddress: Int] = [:]
    }

    private let counts = Mutex(Counts())

    func reserve(_ address: IPAddress?, maxTotal: Int?, maxPerAddress: Int?) -> Decision {
        counts.withLock { counts in
            if let maxTotal, counts.total >= maxTotal { return .nodeFull }
            if let address {
                let current = counts.perAddress[address, default: 0]
                if let maxPerAddress, current >= maxPerAddress { return .addressFull }
                counts.perAddress[address] = current + 1
            }
            counts.total += 1
            return .admitted
        }
    }

    func release(_ address: IPAddress?) {
        counts.withLock { counts in
            counts.total -= 1
            guard let address, let current = counts.perAddress[address] else { return }
            if current <= 1 {
                counts.perAddress.removeValue(forKey: address)
            } else {
                counts.perAddress[address] = current - 1
            }
        }
    }

    /// Open WebSockets counted, and distinct addresses among them (tests, metrics).
    var snapshot: (total: Int, addresses: Int) {
        counts.withLock { ($0.total, $0.perAddress.count) }
    }
}

/// Pipelined admin requests answered out of order but written in order (HTTP/1.1 §9.3.2): each
/// request gets a slot, filled now or later; filled slots at the front go out.
struct AdminPipeline {
    final class Slot {
        let keepAlive: Bool
        let head: Bool
        var response: HTTPResponse?

        init(keepAlive: Bool, head: Bool, response: HTTPResponse? = nil) {
            self.keepAlive = keepAlive
            self.head = head
            self.response = response
        }
    }

    /// Beyond this many answers outstanding the connection reads no further requests.
    static let maxParked = 64

    private var slots: [Slot] = []
    /// keep-alive and HEAD of the request being handled.
    var current: (keepAlive: Bool, head: Bool) = (true, false)

    var isEmpty: Bool { slots.isEmpty }
    var count: Int { slots.count }

    mutating func park() -> Slot {
        let slot = Slot(keepAlive: current.keepAlive, head: current.head)
        slots.append(slot)
        return slot
    }

    /// An immediate answer behind parked ones waits its turn.
    mutating func append(_ response: HTTPResponse) {
        slots.append(Slot(keepAlive: current.keepAlive, head: current.head, response: response))
    }

    mutating func popReady() -> (HTTPResponse, Bool, Bool)? {
        guard let first = slots.first, let response = first.response else { return nil }
        slots.removeFirst()
        return (response, first.keepAlive, first.head)
    }
}

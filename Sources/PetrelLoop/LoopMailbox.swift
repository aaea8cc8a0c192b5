import CLibUV
import Synchronization

/// The only way into a loop from another thread: a locked queue of jobs plus `uv_async_send`.
/// libuv coalesces wake-ups, so the loop drains every queued job per wake-up.
public final class LoopMailbox: @unchecked Sendable {
    private struct State {
        var jobs: [@Sendable (EventLoop) -> Void] = []
        var async: UnsafeMutablePointer<uv_async_t>?
    }
    // @unchecked: `state` is only touched under `lock`; the async handle is closed on the loop thread.
    private let lock = Mutex<Void>(())
    private var state = State()

    init() {}

    func attach(to loop: EventLoop) {
        let async = UnsafeMutablePointer<uv_async_t>.allocate(capacity: 1)
        uv_async_init(loop.uv, async, mailboxWakeup)
        async.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        lock.withLock { _ in state.async = async }
    }

    /// Runs `job` on the loop's thread. Returns false when the loop has already shut its mailbox.
    @discardableResult
    public func post(_ job: @escaping @Sendable (EventLoop) -> Void) -> Bool {
        lock.withLock { _ -> Bool in
            guard let async = state.async else { return false }
            state.jobs.append(job)
            uv_async_send(async)
            return true
        }
    }

    func drain(_ loop: EventLoop) {
        let batch = lock.withLock { _ -> [@Sendable (EventLoop) -> Void] in
            let taken = state.jobs
            state.jobs.removeAll(keepingCapacity: true)
            return taken
        }
        for job in batch { job(loop) }
    }

    func detach() {
        let async = lock.withLock { _ -> UnsafeMutablePointer<uv_async_t>? in
            let taken = state.async
            state.async = nil
            return taken
        }
        guard let async else { return }
        uv_close(petrel_async_as_handle(async)) { h in
            h?.deallocate()
        }
    }
}

private func mailboxWakeup(_ async: UnsafeMutablePointer<uv_async_t>?) {
    guard let async else { return }
    let mailbox = Unmanaged<LoopMailbox>.fromOpaque(async.pointee.data).takeUnretainedValue()
    mailbox.drain(EventLoop.from(async.pointee.loop))
}

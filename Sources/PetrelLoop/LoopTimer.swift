import CLibUV

/// A repeating libuv timer with a Swift callback; one per loop for sweeps, not per connection.
public final class LoopTimer {
    let handle: UnsafeMutablePointer<uv_timer_t>
    fileprivate let action: () -> Void

    public init(loop: EventLoop, action: @escaping () -> Void) {
        self.action = action
        handle = UnsafeMutablePointer<uv_timer_t>.allocate(capacity: 1)
        uv_timer_init(loop.uv, handle)
        handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    }

    public func start(everyMs: UInt64) {
        uv_timer_start(handle, timerFired, everyMs, everyMs)
    }

    /// Keeps the loop from waiting on this timer alone (e.g. while draining).
    public func unref() {
        uv_unref(petrel_timer_as_handle(handle))
    }

    public func close() {
        uv_timer_stop(handle)
        uv_close(petrel_timer_as_handle(handle)) { $0?.deallocate() }
    }
}

private func timerFired(_ handle: UnsafeMutablePointer<uv_timer_t>?) {
    Unmanaged<LoopTimer>.fromOpaque(handle!.pointee.data).takeUnretainedValue().action()
}

import CLibUV

/// Delivers a POSIX signal to a loop callback (libuv turns it into a normal loop event).
public final class SignalWatcher {
    let handle: UnsafeMutablePointer<uv_signal_t>
    fileprivate let action: (Int32) -> Void

    public init(loop: EventLoop, signal: Int32, action: @escaping (Int32) -> Void) {
        self.action = action
        handle = UnsafeMutablePointer<uv_signal_t>.allocate(capacity: 1)
        uv_signal_init(loop.uv, handle)
        handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        uv_signal_start(handle, signalFired, signal)
    }

    public func close() {
        uv_signal_stop(handle)
        uv_close(petrel_signal_as_handle(handle)) { $0?.deallocate() }
    }
}

private func signalFired(_ handle: UnsafeMutablePointer<uv_signal_t>?, _ signum: Int32) {
    Unmanaged<SignalWatcher>.fromOpaque(handle!.pointee.data).takeUnretainedValue().action(signum)
}

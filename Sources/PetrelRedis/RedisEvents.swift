import CHiredis
import CLibUV
import PetrelLoop

/// hiredis's event hooks (`ac->ev`) on one `uv_poll_t` per context.
///
/// hiredis asks for read/write interest through the hooks and calls `cleanup` when it frees the
/// context. On a socket error libuv calls the poll callback with a negative status and stops the
/// poll; we then run hiredis's read/write handlers for the interest it had registered, so that
/// hiredis itself reads the error (ECONNREFUSED, ECONNRESET) and fails the context.
///
/// Ownership: the poll handle is allocated here and freed in its close callback; its `data` is
/// a retained `PollState`, released there too. `ev.data` is the handle. `PollState.context` is
/// cleared by `cleanup`, so a callback that frees the context never touches it again.
final class PollState {
    var context: UnsafeMutablePointer<redisAsyncContext>?
    var events: Int32 = 0

    init(context: UnsafeMutablePointer<redisAsyncContext>) {
        self.context = context
    }
}

/// Attaches `ac` to `loop`. Returns false (nothing attached) when libuv refuses the socket.
func attachRedisContext(_ ac: UnsafeMutablePointer<redisAsyncContext>, to loop: EventLoop) -> Bool {
    let handle = UnsafeMutablePointer<uv_poll_t>.allocate(capacity: 1)
    guard uv_poll_init(loop.uv, handle, ac.pointee.c.fd) == 0 else {
        handle.deallocate()
        return false
    }
    handle.pointee.data = Unmanaged.passRetained(PollState(context: ac)).toOpaque()
    ac.pointee.ev.data = UnsafeMutableRawPointer(handle)
    ac.pointee.ev.addRead = pollAddRead
    ac.pointee.ev.delRead = pollDelRead
    ac.pointee.ev.addWrite = pollAddWrite
    ac.pointee.ev.delWrite = pollDelWrite
    ac.pointee.ev.cleanup = pollCleanup
    return true
}

private func pollHandle(_ privdata: UnsafeMutableRawPointer?) -> (UnsafeMutablePointer<uv_poll_t>, PollState) {
    let handle = privdata!.assumingMemoryBound(to: uv_poll_t.self)
    return (handle, Unmanaged<PollState>.fromOpaque(handle.pointee.data).takeUnretainedValue())
}

private func pollUpdate(_ handle: UnsafeMutablePointer<uv_poll_t>, _ state: PollState) {
    if state.events != 0 {
        uv_poll_start(handle, state.events, pollFired)
    } else {
        uv_poll_stop(handle)
    }
}

private func pollAddRead(_ privdata: UnsafeMutableRawPointer?) {
    let (handle, state) = pollHandle(privdata)
    state.events |= Int32(UV_READABLE.rawValue)
    pollUpdate(handle, state)
}

private func pollDelRead(_ privdata: UnsafeMutableRawPointer?) {
    let (handle, state) = pollHandle(privdata)
    state.events &= ~Int32(UV_READABLE.rawValue)
    pollUpdate(handle, state)
}

private func pollAddWrite(_ privdata: UnsafeMutableRawPointer?) {
    let (handle, state) = pollHandle(privdata)
    state.events |= Int32(UV_WRITABLE.rawValue)
    pollUpdate(handle, state)
}

private func pollDelWrite(_ privdata: UnsafeMutableRawPointer?) {
    let (handle, state) = pollHandle(privdata)
    state.events &= ~Int32(UV_WRITABLE.rawValue)
    pollUpdate(handle, state)
}

private func pollCleanup(_ privdata: UnsafeMutableRawPointer?) {
    let (handle, state) = pollHandle(privdata)
    state.context = nil
    state.events = 0
    uv_poll_stop(handle)
    uv_close(petrel_redis_poll_as_handle(handle), pollClosed)
}

private func pollClosed(_ handle: UnsafeMutablePointer<uv_handle_t>?) {
    guard let handle else { return }
    Unmanaged<PollState>.fromOpaque(handle.pointee.data).release()
    handle.deallocate()
}

private func pollFired(_ handle: UnsafeMutablePointer<uv_poll_t>?, _ status: Int32, _ events: Int32) {
    guard let handle else { return }
    let state = Unmanaged<PollState>.fromOpaque(handle.pointee.data).takeUnretainedValue()
    // On error libuv passes no events: let hiredis try what it was waiting for and meet the error.
    let ready = status < 0 ? state.events : events
    if ready & Int32(UV_READABLE.rawValue) != 0, let ac = state.context {
        redisAsyncHandleRead(ac)
    }
    if ready & Int32(UV_WRITABLE.rawValue) != 0, let ac = state.context {
        redisAsyncHandleWrite(ac)
    }
}

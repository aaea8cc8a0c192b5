import CLibUV
import Foundation

/// Starts event loops on their own threads and hands back only what is safe to share
/// (the mailbox; the thread id is only joined).
public final class LoopThread: @unchecked Sendable {
    public let index: Int
    public let mailbox: LoopMailbox
    private let thread: UnsafeMutablePointer<uv_thread_t>

    private init(index: Int, mailbox: LoopMailbox, thread: UnsafeMutablePointer<uv_thread_t>) {
        self.index = index
        self.mailbox = mailbox
        self.thread = thread
    }

    /// Creates the loop on a new thread, runs `setup` there, then runs the loop until it has no
    /// active handles. Returns once `setup` has finished, with its result.
    public static func start<Result>(index: Int, setup: @escaping (EventLoop) -> Result) -> (LoopThread, Result) {
        let box = ResultBox<Result>()
        let start = ThreadStart(index: index) { loop in box.value = setup(loop) }
        let thread = UnsafeMutablePointer<uv_thread_t>.allocate(capacity: 1)
        let rc = uv_thread_create(thread, threadEntry, Unmanaged.passRetained(start).toOpaque())
        precondition(rc == 0, "uv_thread_create failed: \(UVError.describe(rc))")
        start.ready.wait()
        return (LoopThread(index: index, mailbox: start.mailbox!, thread: thread), box.value!)
    }

    /// Waits for the loop's thread to end.
    public func join() {
        uv_thread_join(thread)
    }
}

private final class ResultBox<T>: @unchecked Sendable { var value: T? }

/// Hand-over from the starting thread to the loop thread; the semaphore orders every access.
private final class ThreadStart: @unchecked Sendable {
    let index: Int
    let body: (EventLoop) -> Void
    let ready = DispatchSemaphore(value: 0)
    var mailbox: LoopMailbox?

    init(index: Int, body: @escaping (EventLoop) -> Void) {
        self.index = index
        self.body = body
    }
}

private func threadEntry(_ arg: UnsafeMutableRawPointer?) {
    let start = Unmanaged<ThreadStart>.fromOpaque(arg!).takeRetainedValue()
    let loop = EventLoop(index: start.index)
    start.mailbox = loop.mailbox
    start.body(loop)
    start.ready.signal()
    loop.run()
    loop.destroy()
}

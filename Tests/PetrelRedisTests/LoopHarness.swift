import CLibUV
import Dispatch
import PetrelLoop
import PetrelRedis

/// A test body running on its own event loop thread.
///
/// The body gets a `LoopContext` on the loop thread; it registers what it opens with
/// `closeOnTeardown` and calls `finish(value)` when done. Teardown closes what was registered
/// and the mailbox, then, one timer turn later (so close callbacks of the objects under test have
/// run), counts the loop's handles that are not closing: that count must be 0. The loop thread
/// then ends by itself (no active handles) and is joined by `wait()`.
final class LoopRun<T>: @unchecked Sendable {
    // Written on the loop thread before `finished` is signalled, read after it.
    var value: T?
    var timedOut = false
    var liveHandles = -1
    fileprivate let finished = DispatchSemaphore(value: 0)
    fileprivate var tornDown = false
    fileprivate var closers: [() -> Void] = []
    private var thread: LoopThread?

    /// Starts the loop thread; returns once `body` has run (the loop keeps going).
    static func start(_ body: @escaping (LoopContext<T>) -> Void) -> LoopRun<T> {
        let run = LoopRun<T>()
        let (thread, _) = LoopThread.start(index: 0) { loop in
            body(LoopContext(loop: loop, run: run))
        }
        run.thread = thread
        return run
    }

    /// Waits for `finish` (or tears down after `timeoutSeconds`), then joins the loop thread.
    @discardableResult
    func wait(timeoutSeconds: Double = 30) -> LoopRun<T> {
        if finished.wait(timeout: .now() + timeoutSeconds) == .timedOut {
            timedOut = true
            thread?.mailbox.post { [self] loop in LoopContext(loop: loop, run: self).tearDown() }
            finished.wait()
        }
        thread?.join()
        return self
    }

    /// `start` then `wait`, for tests that need nothing from the test thread meanwhile.
    static func run(timeoutSeconds: Double = 30, _ body: @escaping (LoopContext<T>) -> Void) -> LoopRun<T> {
        start(body).wait(timeoutSeconds: timeoutSeconds)
    }
}

/// The loop-thread side of a `LoopRun`.
struct LoopContext<T> {
    let loop: EventLoop
    fileprivate let run: LoopRun<T>

    /// Runs `close` at teardown (after `finish` or on a test timeout).
    func closeOnTeardown(_ close: @escaping () -> Void) {
        run.closers.append(close)
    }

    func finish(_ value: T) {
        guard !run.tornDown else { return }
        run.value = value
        tearDown()
    }

    fileprivate func tearDown() {
        guard !run.tornDown else { return }
        run.tornDown = true
        while !run.closers.isEmpty {
            run.closers.removeFirst()()
        }
        loop.closeMailbox()
        let run = self.run
        var timer: LoopTimer?
        timer = LoopTimer(loop: loop) { [loop] in
            timer?.close()
            timer = nil
            var live = 0
            uv_walk(loop.uv, { handle, context in
                if let handle, uv_is_closing(handle) == 0 {
                    context!.assumingMemoryBound(to: Int.self).pointee += 1
                }
            }, &live)
            run.liveHandles = live
            if live > 0 {
                // A leak: close it anyway so that the loop thread can end and the test reports.
                uv_walk(loop.uv, { handle, _ in
                    if let handle, uv_is_closing(handle) == 0 { uv_close(handle, nil) }
                }, nil)
            }
            run.finished.signal()
        }
        timer?.start(everyMs: 20)
    }

    /// Runs `action` after `ms` on the loop (a one-shot built on `LoopTimer`).
    func after(_ ms: UInt64, _ action: @escaping () -> Void) {
        var timer: LoopTimer?
        timer = LoopTimer(loop: loop) {
            timer?.close()
            timer = nil
            action()
        }
        timer?.start(everyMs: ms)
        closeOnTeardown {
            timer?.close()
            timer = nil
        }
    }
}

/// Collects results per key so tests can check "exactly once".
final class Log<Key: Hashable, Value> {
    var entries: [Key: [Value]] = [:]
    var order: [Key] = []
    func record(_ key: Key, _ value: Value) {
        entries[key, default: []].append(value)
        order.append(key)
    }
}

extension Result where Success == RedisReply, Failure == RedisError {
    var reply: RedisReply? { if case .success(let r) = self { r } else { nil } }
    var error: RedisError? { if case .failure(let e) = self { e } else { nil } }
}

/// Wait for a client to connect, then run `body`; fail the run if it does not within `ms`.
func whenConnected<T>(_ client: RedisClient, _ ctx: LoopContext<T>, orFinishWith failure: T, withinMs ms: UInt64 = 5_000, _ body: @escaping () -> Void) {
    var fired = false
    client.onStateChange = { up in
        guard up, !fired else { return }
        fired = true
        body()
    }
    ctx.after(ms) {
        if !fired { ctx.finish(failure) }
    }
}

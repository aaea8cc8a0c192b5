import CLibUV
import Dispatch
import PetrelHTTPClient
import PetrelLoop

/// Runs a test body on a fresh event loop thread with one `HTTPClient`.
///
/// The body calls `finish(value)` (on the loop thread) when it is done; that closes the client and
/// the mailbox, and counts the loop's handles that are not closing (which must be 0: every
/// handle the client opened is closed by `close()`). The loop thread then runs the close
/// callbacks, ends, and is joined before this returns.
func runClient<T>(
    _ options: HTTPClientOptions = HTTPClientOptions(),
    timeoutSeconds: Double = 20,
    _ body: @escaping (_ client: HTTPClient, _ finish: @escaping (T) -> Void) -> Void
) -> LoopOutcome<T> {
    let outcome = LoopOutcome<T>()
    let (thread, _) = LoopThread.start(index: 0) { loop in
        let client = HTTPClient(loop: loop, options: options)
        // Kept alive by the loop until it is destroyed, so a completion may finish the test
        // (closing the client) while the client is still on the stack.
        loop.owner = client
        body(client) { value in
            outcome.value = value
            outcome.tearDown(loop)
        }
    }
    if outcome.finished.wait(timeout: .now() + timeoutSeconds) == .timedOut {
        outcome.timedOut = true
        thread.mailbox.post { loop in outcome.tearDown(loop) }
        outcome.finished.wait()
    }
    thread.join()
    return outcome
}

final class LoopOutcome<T>: @unchecked Sendable {
    // Written on the loop thread before `finished` is signalled, read after the join.
    var value: T?
    var timedOut = false
    var liveHandles = -1
    let finished = DispatchSemaphore(value: 0)
    private var tornDown = false

    fileprivate func tearDown(_ loop: EventLoop) {
        guard !tornDown else { return }
        tornDown = true
        (loop.owner as? HTTPClient)?.close()
        loop.closeMailbox()
        var live = 0
        uv_walk(loop.uv, { handle, context in
            if let handle, uv_is_closing(handle) == 0 {
                context!.assumingMemoryBound(to: Int.self).pointee += 1
            }
        }, &live)
        liveHandles = live
        finished.signal()
    }
}

/// Counts completions per request so a test can check "exactly once".
final class CompletionLog {
    var results: [Int: [Result<HTTPClientResponse, HTTPClientError>]] = [:]
    func record(_ index: Int, _ result: Result<HTTPClientResponse, HTTPClientError>) {
        results[index, default: []].append(result)
    }
}

extension Result where Success == HTTPClientResponse, Failure == HTTPClientError {
    var response: HTTPClientResponse? { if case .success(let r) = self { r } else { nil } }
    var error: HTTPClientError? { if case .failure(let e) = self { e } else { nil } }
}

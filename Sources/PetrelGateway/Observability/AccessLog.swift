import CLibUV
import Glibc
import PetrelConfig
import Synchronization

/// The access log (DESIGN §9): one JSON line per HTTP request, WebSocket connect, sampled
/// message and disconnect. Loops append lines to their own buffer and hand full buffers (or
/// whatever they have at each sweep) to one writer thread, so a slow disk or a full stdout pipe
/// never blocks a loop: the queue is bounded and lines past it are dropped and counted.
enum AccessLog {
    /// What loops read at each sweep: the writer and the line shape. Swapped on SIGHUP.
    struct State: Sendable {
        let writer: AccessLogWriter
        let fields: [AccessLogField]
        /// A message is logged when a loop's random 64-bit draw is below this (0: never).
        let sampleThreshold: UInt64
    }

    private static let current = Mutex<State?>(nil)

    static var state: State? { current.withLock { $0 } }

    /// At start and after a reload with a valid file.
    static func configure(_ config: AccessLogConfig?) {
        current.withLock { state in
            guard let config else {
                state = nil
                return
            }
            let writer: AccessLogWriter
            if let running = state?.writer, running.path == config.path {
                writer = running
            } else {
                writer = AccessLogWriter(path: config.path)
                state?.writer.stop(wait: false)
            }
            let threshold: UInt64 = config.sampleRate >= 1 ? .max
                : config.sampleRate <= 0 ? 0 : UInt64(config.sampleRate * 18_446_744_073_709_551_615.0)
            state = State(writer: writer, fields: config.fields, sampleThreshold: threshold)
        }
    }

    /// SIGHUP: files are closed and opened again (after logrotate moved them).
    static func reopenFiles() {
        current.withLock { $0?.writer.reopen() }
    }

    /// After the loops have stopped: writes what is queued.
    static func shutdown() {
        let state = current.withLock { s -> State? in
            let old = s
            s = nil
            return old
        }
        state?.writer.stop(wait: true)
    }
}

/// The writer thread: waits on an eventfd, takes queued chunks, writes them with blocking
/// `write(2)`. To stdout/stderr, which the JSON logger shares, it writes whole lines in pieces of
/// at most PIPE_BUF bytes, so its lines never interleave with the logger's.
final class AccessLogWriter: @unchecked Sendable {
    let path: String
    /// Queued bytes above this are dropped (and counted by the loop that tried to queue them).
    static let maxQueuedBytes = 8 << 20

    private struct Queue {
        var chunks: [[UInt8]] = []
        var bytes = 0
        var reopen = false
        var stopping = false
        var stopped = false
    }

    private let queue = Mutex<Queue>(Queue())
    /// A pipe: the writer thread blocks reading it; loops write a byte (non-blocking) to wake it.
    private let wakeRead: Int32
    private let wakeWrite: Int32
    // Touched by the writer thread only (and by init before the thread starts).
    private var fd: Int32 = -1
    private var thread = uv_thread_t()

    init(path: String) {
        self.path = path
        var fds: [Int32] = [-1, -1]
        _ = pipe(&fds)
        wakeRead = fds[0]
        wakeWrite = fds[1]
        _ = fcntl(wakeWrite, F_SETFL, fcntl(wakeWrite, F_GETFL) | O_NONBLOCK)
        _ = fcntl(wakeRead, F_SETFD, FD_CLOEXEC)
        _ = fcntl(wakeWrite, F_SETFD, FD_CLOEXEC)
        openDestination()
        let context = Unmanaged.passRetained(self).toOpaque()
        uv_thread_create(&thread, { arg in
            let writer = Unmanaged<AccessLogWriter>.fromOpaque(arg!).takeRetainedValue()
            writer.run()
        }, context)
    }

    /// From any loop; never blocks beyond the queue's lock. False: dropped (queue full or stopped).
    func submit(_ chunk: [UInt8]) -> Bool {
        let accepted = queue.withLock { q -> Bool in
            guard !q.stopping, q.bytes + chunk.count <= Self.maxQueuedBytes else { return false }
            q.chunks.append(chunk)
            q.bytes += chunk.count
            return true
        }
        if accepted { signal() }
        return accepted
    }

    func reopen() {
        queue.withLock { $0.reopen = true }
        signal()
    }

    func stop(wait: Bool) {
        queue.withLock { $0.stopping = true }
        signal()
        guard wait else { return }
        for _ in 0..<500 {
            if queue.withLock({ $0.stopped }) { return }
            usleep(10_000)
        }
    }

    private func signal() {
        // A full pipe already holds a wake-up: EAGAIN is fine.
        var one: UInt8 = 1
        _ = Glibc.write(wakeWrite, &one, 1)
    }

    private func openDestination() {
        if fd > 2 { close(fd) }
        switch path {
        case "stdout": fd = 1
        case "stderr": fd = 2
        default:
            fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            if fd < 0 { Log.error("access log: cannot open file", ["path": .string(path), "errno": .int(Int(errno))]) }
        }
    }

    private func run() {
        while true {
            var drained = [UInt8](repeating: 0, count: 64)
            let n = drained.withUnsafeMutableBytes { Glibc.read(wakeRead, $0.baseAddress!, 64) }
            if n < 0 && errno == EINTR { continue }
            let (chunks, reopen, stopping) = queue.withLock { q -> ([[UInt8]], Bool, Bool) in
                let taken = (q.chunks, q.reopen, q.stopping)
                q.chunks.removeAll()
                q.bytes = 0
                q.reopen = false
                return taken
            }
            if reopen { openDestination() }
            for chunk in chunks { write(chunk) }
            if stopping {
                if fd > 2 { close(fd) }
                close(wakeRead)
                queue.withLock { $0.stopped = true }
                return
            }
        }
    }

    private func write(_ chunk: [UInt8]) {
        guard fd >= 0 else { return }
        chunk.withUnsafeBytes { buf in
            let limit = fd <= 2 ? Int(PIPE_BUF) : buf.count
            var start = 0
            while start < buf.count {
                // Up to `limit` bytes ending on a line boundary; a longer single line goes alone.
                var end = min(buf.count, start + limit)
                if end < buf.count {
                    var cut = end
                    while cut > start && buf[cut - 1] != 0x0A { cut -= 1 }
                    if cut > start {
                        end = cut
                    } else {
                        end = start
                        while end < buf.count && buf[end] != 0x0A { end += 1 }
                        end = min(buf.count, end + 1)
                    }
                }
                var offset = start
                while offset < end {
                    let n = Glibc.write(fd, buf.baseAddress! + offset, end - offset)
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { return }
                    offset += n
                }
                start = end
            }
        }
    }
}

/// One loop's side of the access log: its line buffer and sampling state.
struct LoopAccessLog {
    var state: AccessLog.State?
    var buffer: [UInt8] = []
    var bufferedLines = 0
    var lines = 0
    var dropped = 0
    var random: UInt64 = 0x9E37_79B9_7F4A_7C15
    static let flushBytes = 32 * 1024

    /// xorshift64*: whether this message gets a line.
    @inline(__always)
    mutating func sampleMessage() -> Bool {
        guard let threshold = state?.sampleThreshold, threshold != 0 else { return false }
        // (Callers test `LoopMetrics.samplesMessages` first, so this runs only when sampling.)
        if threshold == .max { return true }
        random ^= random >> 12
        random ^= random << 25
        random ^= random >> 27
        return random &* 0x2545_F491_4F6C_DD1D < threshold
    }

    mutating func append(_ line: AccessLogLine) {
        guard state != nil else { return }
        buffer += line.text.utf8
        buffer.append(0x0A)
        bufferedLines += 1
        if buffer.count >= Self.flushBytes { flush() }
    }

    mutating func flush() {
        guard !buffer.isEmpty else { return }
        if let writer = state?.writer, writer.submit(buffer) {
            lines += bufferedLines
        } else {
            dropped += bufferedLines
        }
        buffer = []
        bufferedLines = 0
    }
}

/// Builds one JSON line with the configured fields in their configured order.
struct AccessLogLine {
    private var values: [AccessLogField: String] = [:]
    let fields: [AccessLogField]

    init(fields: [AccessLogField]) { self.fields = fields }

    mutating func set(_ field: AccessLogField, _ value: String?) {
        values[field] = value.map(JSONText.quoted) ?? "null"
    }

    mutating func set(_ field: AccessLogField, _ value: Int?) {
        values[field] = value.map { String($0) } ?? "null"
    }

    var text: String {
        var out = "{"
        var first = true
        for field in fields {
            guard let value = values[field] else { continue }
            if !first { out += "," }
            first = false
            out += "\"" + field.rawValue + "\":" + value
        }
        return out + "}"
    }
}

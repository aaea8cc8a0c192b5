import CLibUV

/// One libuv loop, owned by one thread for its whole life.
///
/// Not `Sendable`: everything reachable from here is touched only on the loop's thread. Other
/// threads reach a loop only through its `mailbox` (DESIGN §1).
public final class EventLoop {
    public let uv: UnsafeMutablePointer<uv_loop_t>
    public let index: Int
    public let mailbox: LoopMailbox

    /// One read buffer per loop: `read_cb` always follows `alloc_cb` on the same thread, so every
    /// connection of the loop can share it and idle connections own no read memory.
    let readBuffer: UnsafeMutableRawBufferPointer
    static let readBufferSize = 256 * 1024

    /// Writes produced while one stream's read callback runs are gathered here and go out in one
    /// system call when the callback ends ("corking").
    let corkBuffer: UnsafeMutableRawPointer
    // Loop-confined and never borrowed across a call (here and on the hot properties of
    // TCPStream, HTTPSession, LoopMetrics and Worker): the runtime's exclusivity check on every
    // access cost about 2 % of a small request's CPU (docs/benchmarks.md, "HTTP API").
    @exclusivity(unchecked) var corkCount = 0
    static let corkBufferSize = 256 * 1024
    @exclusivity(unchecked) unowned(unsafe) var corkedStream: TCPStream?

    /// Plaintext, staging and ciphertext buffers for TLS connections, made on first use.
    var tlsBuffers: TLSLoopBuffers?

    /// The object that runs this loop's work (the gateway's worker), kept alive as long as the loop.
    public var owner: AnyObject?

    init(index: Int) {
        self.index = index
        uv = UnsafeMutablePointer<uv_loop_t>.allocate(capacity: 1)
        let rc = uv_loop_init(uv)
        precondition(rc == 0, "uv_loop_init failed: \(UVError.describe(rc))")
        readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.readBufferSize, alignment: 16)
        corkBuffer = UnsafeMutableRawPointer.allocate(byteCount: Self.corkBufferSize, alignment: 16)
        mailbox = LoopMailbox()
        uv.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        mailbox.attach(to: self)
    }

    /// Milliseconds of libuv's cached loop time (monotonic).
    @inline(__always) public var nowMs: Int64 { Int64(uv_now(uv)) }

    /// Runs until no handle is active.
    func run() {
        uv_run(uv, UV_RUN_DEFAULT)
    }

    /// Closes the mailbox so the loop can end once every other handle is closed.
    public func closeMailbox() {
        mailbox.detach()
    }

    func destroy() {
        owner = nil
        // Close any handle someone forgot, then let their close callbacks run.
        uv_walk(uv, { handle, _ in
            if let handle, uv_is_closing(handle) == 0 { uv_close(handle, nil) }
        }, nil)
        uv_run(uv, UV_RUN_DEFAULT)
        uv_loop_close(uv)
        uv.deallocate()
        readBuffer.deallocate()
        corkBuffer.deallocate()
        tlsBuffers = nil
    }

    static func from(_ loop: UnsafeMutablePointer<uv_loop_t>) -> EventLoop {
        Unmanaged<EventLoop>.fromOpaque(loop.pointee.data).takeUnretainedValue()
    }
}

public enum UVError {
    public static func describe(_ code: Int32) -> String {
        String(cString: uv_strerror(code))
    }
    public static func name(_ code: Int32) -> String {
        String(cString: uv_err_name(code))
    }
}

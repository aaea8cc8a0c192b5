import CHiredis

/// hiredis's `redisCallbackFn` is a C function typedef, which Swift imports as a closure type;
/// this is the same signature spelled as a C function pointer.
typealias RedisReplyCallback = @convention(c) (
    UnsafeMutablePointer<redisAsyncContext>?, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?
) -> Void

/// One command in flight.
///
/// hiredis holds one retain (its `privdata`) and calls `commandReplied` exactly once per
/// command: with the reply, or with NULL when the context is freed. The client's pending queue
/// holds another, for the timeout sweep. Whichever of reply, timeout, drop or close comes first
/// takes the completion; later ones find it `nil`.
final class CommandBox {
    private var completion: ((Result<RedisReply, RedisError>) -> Void)?
    let deadlineMs: Int64
    /// A handshake step (`AUTH`, `SELECT`), not a caller's command.
    let isInternal: Bool

    init(deadlineMs: Int64, isInternal: Bool = false, completion: @escaping (Result<RedisReply, RedisError>) -> Void) {
        self.deadlineMs = deadlineMs
        self.isInternal = isInternal
        self.completion = completion
    }

    var isDone: Bool { completion == nil }

    func finish(_ result: Result<RedisReply, RedisError>) {
        guard let completion else { return }
        self.completion = nil
        completion(result)
    }
}

/// FIFO of boxes in send order. Every command of a client shares one timeout and replies come
/// back in send order, so the head always has the earliest deadline and is usually the next to
/// be answered: the sweep and the reply path only ever look at the head.
struct CommandQueue {
    private var items: [CommandBox?] = []
    private var head = 0

    var isEmpty: Bool { head == items.count }
    var count: Int { items.count - head }
    var first: CommandBox? { isEmpty ? nil : items[head] }

    /// Callers' commands still waiting for their completion.
    var unfinishedCount: Int {
        items[head...].reduce(0) { n, box in
            guard let box, !box.isDone, !box.isInternal else { return n }
            return n + 1
        }
    }

    mutating func append(_ box: CommandBox) {
        items.append(box)
    }

    @discardableResult
    mutating func popFirst() -> CommandBox? {
        guard !isEmpty else { return nil }
        let box = items[head]
        items[head] = nil
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: items.count <= 4096)
            head = 0
        } else if head >= 1024, head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
        return box
    }

    /// Drops finished boxes at the head.
    mutating func popFinished() {
        while let box = first, box.isDone { popFirst() }
    }

    mutating func removeAll() -> [CommandBox] {
        let all = items[head...].compactMap { $0 }
        items.removeAll(keepingCapacity: false)
        head = 0
        return all
    }
}

/// Reusable argv storage: one contiguous byte buffer plus pointer and length arrays, so sending
/// a command allocates nothing once the buffers have grown to the largest command seen.
struct ArgvScratch {
    private var bytes: [UInt8] = []
    private var offsets: [Int] = []
    private var pointers: [UnsafePointer<CChar>?] = []
    private var lengths: [Int] = []

    /// Sends `args` with `redisAsyncCommandArgv`; the argv memory is only needed during the
    /// call (hiredis formats the command into its output buffer at once).
    mutating func send(
        _ args: [[UInt8]], on ac: UnsafeMutablePointer<redisAsyncContext>,
        callback: RedisReplyCallback, privdata: UnsafeMutableRawPointer?
    ) -> Int32 {
        bytes.removeAll(keepingCapacity: true)
        offsets.removeAll(keepingCapacity: true)
        lengths.removeAll(keepingCapacity: true)
        for arg in args {
            offsets.append(bytes.count)
            lengths.append(arg.count)
            bytes.append(contentsOf: arg)
        }
        bytes.append(0)  // never empty, so the base address exists even for all-empty args
        return bytes.withUnsafeBufferPointer { buf in
            let base = UnsafeRawPointer(buf.baseAddress!).assumingMemoryBound(to: CChar.self)
            pointers.removeAll(keepingCapacity: true)
            for offset in offsets { pointers.append(base + offset) }
            return pointers.withUnsafeMutableBufferPointer { argv in
                lengths.withUnsafeBufferPointer { argvlen in
                    redisAsyncCommandArgv(ac, callback, privdata, Int32(args.count), argv.baseAddress, argvlen.baseAddress)
                }
            }
        }
    }
}

/// Copies a hiredis reply tree into a `RedisReply` (hiredis frees its tree after the callback).
func decodeReply(_ reply: UnsafePointer<redisReply>) -> RedisReply {
    let r = reply.pointee
    switch r.type {
    case REDIS_REPLY_STRING:
        return .string(replyBytes(r))
    case REDIS_REPLY_STATUS:
        return .status(String(decoding: replyBytes(r), as: UTF8.self))
    case REDIS_REPLY_ERROR:
        return .error(String(decoding: replyBytes(r), as: UTF8.self))
    case REDIS_REPLY_INTEGER:
        return .integer(Int64(r.integer))
    case REDIS_REPLY_ARRAY:
        var items: [RedisReply] = []
        items.reserveCapacity(r.elements)
        for i in 0..<r.elements {
            if let element = r.element[i] { items.append(decodeReply(element)) } else { items.append(.null) }
        }
        return .array(items)
    default:  // REDIS_REPLY_NIL
        return .null
    }
}

private func replyBytes(_ r: redisReply) -> [UInt8] {
    guard let str = r.str, r.len > 0 else { return [] }
    return Array(UnsafeRawBufferPointer(start: str, count: r.len))
}

/// The reply callback of every `CommandBox` (client commands and handshake steps).
func commandReplied(_ ac: UnsafeMutablePointer<redisAsyncContext>?, _ reply: UnsafeMutableRawPointer?, _ privdata: UnsafeMutableRawPointer?) {
    guard let privdata else { return }
    let box = Unmanaged<CommandBox>.fromOpaque(privdata).takeRetainedValue()
    let link = RedisLink.from(ac)
    guard let reply else {
        // NULL only while hiredis frees the context. Let the link drop it now, so the owner
        // fails every pending command (in order) and `isConnected` is already false when user
        // code runs.
        if let ac, let link { link.contextGone(ac) }
        box.finish(.failure(.disconnected))
        return
    }
    let decoded = decodeReply(reply.assumingMemoryBound(to: redisReply.self))
    if case .error(let message) = decoded {
        box.finish(.failure(.server(message)))
    } else {
        box.finish(.success(decoded))
    }
    // The completion may have closed the owner (and dropped its last reference).
    if let link, !link.closed { link.owner.linkReplied() }
}

let commandRepliedCallback: RedisReplyCallback = commandReplied

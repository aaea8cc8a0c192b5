// WebSocket echo server at "/" for peer comparison (Benchmarks/ws-compare.sh).
//
//   hummingbird-echo PORT [THREADS]
//
// PORT may be 0 (the kernel picks one). Prints "listening PORT" on stdout once the socket is bound.
// Text messages are echoed as text, binary as binary; no extensions (no permessage-deflate),
// frames up to 256 KiB, no auto-ping, UTF-8 validation off (Hummingbird's default).
// THREADS (default 1) is the number of NIO event-loop threads, to match `petrel serve --threads 1`.
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

@main
enum HummingbirdEcho {
    static let maxMessage = 256 * 1024

    /// Unbuffered write (the C stdout/stderr globals are not concurrency-safe in Swift 6).
    @Sendable static func writeFD(_ fd: Int32, _ s: String) {
        var s = s
        s.withUTF8 { buf in _ = write(fd, buf.baseAddress, buf.count) }
    }

    static func main() async throws {
        let args = CommandLine.arguments
        guard args.count >= 2, let port = Int(args[1]), (0...65535).contains(port) else {
            writeFD(2, "usage: hummingbird-echo PORT [THREADS]\n")
            exit(2)
        }
        let threads = args.count >= 3 ? max(1, Int(args[2]) ?? 1) : 1

        var logger = Logger(label: "hummingbird-echo")
        logger.logLevel = .warning

        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)

        let router = Router()
        router.get("/health") { _, _ in "ok" }

        let wsConfig = WebSocketServerConfiguration(
            maxFrameSize: maxMessage,
            extensions: [],
            autoPing: .disabled
        )

        let app = Application(
            router: router,
            server: .http1WebSocketUpgrade(configuration: .init(ws: wsConfig)) { request, _, _ in
                guard request.path == "/" else { return .dontUpgrade }
                return .upgrade([:]) { inbound, outbound, _ in
                    for try await message in inbound.messages(maxSize: maxMessage) {
                        switch message {
                        case .text(let text):
                            try await outbound.write(.text(text))
                        case .binary(let buffer):
                            try await outbound.write(.binary(buffer))
                        }
                    }
                }
            },
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: nil, backlog: 511),
            onServerRunning: { channel in
                writeFD(1, "listening \(channel.localAddress?.port ?? port)\n")
            },
            eventLoopGroupProvider: .shared(group),
            logger: logger
        )
        try await app.runService()
    }
}

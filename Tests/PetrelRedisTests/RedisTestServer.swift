import Foundation
import Glibc

/// A real `redis-server` on 127.0.0.1 and a free port, owned by one test.
///
/// `redis-server --port 0` means "no TCP listener", so the port is found by binding a socket to
/// port 0 and closing it. `kill()` is SIGKILL (the abrupt loss the client must survive);
/// `restart()` starts a new server on the same port.
final class RedisTestServer: @unchecked Sendable {
    private(set) var port: Int
    let directory: URL
    private let extraArguments: [String]
    private var process: Process?

    init(extraArguments: [String] = []) throws {
        port = try Self.freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("petrel-redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.extraArguments = extraArguments
        // Between closing the probe socket and redis binding, a test running in parallel may
        // take the same port: then redis exits at once, and we try another port.
        for attempt in 1... {
            do {
                try launch()
                return
            } catch where attempt < 5 {
                port = try Self.freePort()
            }
        }
    }

    var url: String { "redis://127.0.0.1:\(port)" }

    private func launch() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        p.arguments = [
            "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", directory.path, "--enable-debug-command", "yes", "--daemonize", "no",
        ] + extraArguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        process = p
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if Self.answersPing(port: port, password: passwordArgument) { return }
            if !p.isRunning { break }
            usleep(10_000)
        }
        p.terminate()
        throw RedisTestServerError.didNotStart(port)
    }

    private var passwordArgument: String? {
        guard let i = extraArguments.firstIndex(of: "--requirepass"), i + 1 < extraArguments.count else { return nil }
        return extraArguments[i + 1]
    }

    /// SIGKILL: connections drop without a goodbye.
    func kill() {
        guard let p = process else { return }
        Glibc.kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        process = nil
    }

    func restart() throws {
        kill()
        try launch()
    }

    /// SIGKILL as well: Foundation's `Process` starts children with the spawning thread's signal
    /// mask, and test threads (dispatch workers) block SIGTERM, so `terminate()` would hang.
    func stop() {
        kill()
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }

    /// A port nothing listens on right now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RedisTestServerError.socket(errno) }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw RedisTestServerError.socket(errno) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// A blocking PING on a fresh connection (AUTH first when the server wants a password).
    static func answersPing(port: Int, password: String?) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { return false }
        var request = ""
        if let password { request += "AUTH \(password)\r\n" }
        request += "PING\r\n"
        guard write(fd, request, request.utf8.count) == request.utf8.count else { return false }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 256)
        while received.count < 512 {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { return false }
            received += buffer[0..<n]
            let text = String(decoding: received, as: UTF8.self)
            if text.contains("+PONG") { return true }
            if text.contains("-LOADING") || text.contains("-ERR") || text.contains("-NOAUTH") { return false }
        }
        return false
    }
}

enum RedisTestServerError: Error {
    case didNotStart(Int)
    case socket(Int32)
}

/// A TCP listener that never accepts: the kernel completes connects into its backlog, and
/// nothing is ever answered (a hung Redis).
final class SilentListener: @unchecked Sendable {
    let port: Int
    private var fd: Int32

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RedisTestServerError.socket(errno) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw RedisTestServerError.socket(errno)
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: addr.sin_port))
    }

    /// Hands the listening socket over to the caller, who closes it.
    func takeDescriptor() -> Int32 {
        let taken = fd
        fd = -1
        return taken
    }

    deinit { if fd >= 0 { close(fd) } }
}

/// A one-connection fake Redis: answers `+OK` to the handshake (`SELECT`), then resets the
/// connection (SO_LINGER 0: RST, not FIN) when the next command arrives.
final class ResettingServer: @unchecked Sendable {
    let port: Int
    private let fd: Int32

    init() throws {
        let listener = try SilentListener()
        port = listener.port
        fd = listener.takeDescriptor()
        let fd = self.fd
        Thread.detachNewThread {
            let conn = accept(fd, nil, nil)
            guard conn >= 0 else { return }
            var buffer = [UInt8](repeating: 0, count: 4096)
            _ = read(conn, &buffer, buffer.count)  // SELECT
            _ = write(conn, "+OK\r\n", 5)
            _ = read(conn, &buffer, buffer.count)  // the command to answer with a reset
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            _ = setsockopt(conn, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            close(conn)
        }
    }

    deinit { close(fd) }
}

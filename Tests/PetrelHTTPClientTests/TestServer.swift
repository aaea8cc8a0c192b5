import Foundation

/// A small HTTP/1.1 server in Python (`http.server`), started per test on 127.0.0.1, port 0.
/// Routes: `/echo` (the request back as JSON, with the client's port), `/status/N`, `/sleep/MS`,
/// `/big/N` (Content-Length), `/bigchunked/N` (chunked), `/redirect` (302), `/early`
/// (103 Early Hints, then 200), `/stale` (`/echo`, then the connection closes without notice),
/// `/garbage` (a head no client may accept). With `tls`, it serves HTTPS and, with a client CA, demands a
/// client certificate.
final class TestServer: @unchecked Sendable {
    let process: Process
    let port: Int
    let directory: URL

    struct TLS {
        var certificate: String
        var key: String
        var clientCA: String?
    }

    init(tls: TLS? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("petrel-http-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let script = directory.appendingPathComponent("server.py")
        try Self.script.write(to: script, atomically: true, encoding: .utf8)

        var arguments = [script.path]
        if let tls { arguments += [tls.certificate, tls.key, tls.clientCA ?? ""] }
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()

        // First line of stdout is the port.
        var line = Data()
        let handle = stdout.fileHandleForReading
        while !line.contains(0x0A) {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let port = Int(text) else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw TestServerError.noPort(text)
        }
        self.port = port
    }

    var base: String { "http://127.0.0.1:\(port)" }
    var tlsBase: String { "https://localhost:\(port)" }

    func stop() {
        // SIGKILL: the child inherits the signal mask of the thread that spawned it, and test
        // threads (libdispatch workers) block SIGTERM and SIGINT. The server keeps no state.
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }

    static let script = #"""
import base64, json, signal, ssl, sys, time
signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = self.path.split("?")[0].strip("/").split("/")
        route = parts[0]
        if route == "echo" or route == "stale":
            peer = None
            if hasattr(self.connection, "getpeercert"):
                cert = self.connection.getpeercert()
                if cert:
                    peer = dict(x[0] for x in cert["subject"]).get("commonName")
            info = {
                "method": self.command,
                "path": self.path,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body": base64.b64encode(body).decode(),
                "port": self.client_address[1],
                "peer": peer,
            }
            self.reply(200, json.dumps(info).encode(), [("Content-Type", "application/json"), ("X-Echo", "yes")])
            if route == "stale":
                self.close_connection = True
        elif route == "garbage":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
            self.close_connection = True
        elif route == "status":
            self.reply(int(parts[1]), ("status " + parts[1]).encode(), [("X-Status", parts[1])])
        elif route == "sleep":
            time.sleep(int(parts[1]) / 1000)
            self.reply(200, b"slept")
        elif route == "big":
            self.reply(200, b"x" * int(parts[1]))
        elif route == "bigchunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            left = int(parts[1])
            while left > 0:
                n = min(left, 1024)
                self.wfile.write(b"%x\r\n" % n + b"y" * n + b"\r\n")
                left -= n
            self.wfile.write(b"0\r\n\r\n")
        elif route == "redirect":
            self.reply(302, b"moved", [("Location", "/echo")])
        elif route == "early":
            self.send_response_only(103)
            self.send_header("Link", "</style.css>; rel=preload")
            self.end_headers()
            self.reply(200, b"final", [("X-Final", "1")])
        else:
            self.reply(404, b"no route")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any

class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # the default backlog of 5 drops SYNs under 50 concurrent connects

server = Server(("127.0.0.1", 0), Handler)
if len(sys.argv) > 2:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[1], sys.argv[2])
    if len(sys.argv) > 3 and sys.argv[3]:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(sys.argv[3])
    server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"""#
}

enum TestServerError: Error {
    case noPort(String)
    case command(String)
}

/// A CA, a server certificate for localhost/127.0.0.1 and a client certificate, made with the
/// `openssl` CLI in a temp directory.
struct TestCertificates {
    let directory: URL
    var caFile: String { directory.appendingPathComponent("ca.pem").path }
    var serverCertificate: String { directory.appendingPathComponent("server.pem").path }
    var serverKey: String { directory.appendingPathComponent("server.key").path }
    var clientCertificate: String { directory.appendingPathComponent("client.pem").path }
    var clientKey: String { directory.appendingPathComponent("client.key").path }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("petrel-certs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try run(["req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Petrel Test CA"])
        for (name, san) in [("server", "subjectAltName=IP:127.0.0.1,DNS:localhost"), ("client", "extendedKeyUsage=clientAuth")] {
            try "\(san)\nbasicConstraints=CA:FALSE\n".write(to: directory.appendingPathComponent("\(name).ext"), atomically: true, encoding: .utf8)
            try run(["req"] + ec + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=petrel-\(name)"])
            try run(["x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                     "-out", "\(name).pem", "-days", "2", "-extfile", "\(name).ext"])
        }
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    private func run(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.currentDirectoryURL = directory
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestServerError.command("openssl " + arguments.joined(separator: " "))
        }
    }
}

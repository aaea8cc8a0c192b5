/// A Redis reply (RESP2), copied out of hiredis's reply tree.
///
/// A server error as the *whole* reply reaches a completion as `RedisError.server`; `.error` only
/// appears nested, e.g. one failed command inside the array answered to `EXEC`.
public enum RedisReply: Sendable, Equatable {
    /// Bulk string: binary-safe bytes.
    case string([UInt8])
    /// Simple string such as `OK` or `PONG`.
    case status(String)
    case integer(Int64)
    case array([RedisReply])
    /// Nil bulk string or nil array (`GET` of a missing key, `MGET` holes).
    case null
    case error(String)
}

extension RedisReply {
    /// The bytes of a bulk string, `nil` otherwise.
    public var bytes: [UInt8]? { if case .string(let b) = self { b } else { nil } }
    /// A bulk or simple string as UTF-8 text (invalid sequences repaired), `nil` otherwise.
    public var text: String? {
        switch self {
        case .string(let b): String(decoding: b, as: UTF8.self)
        case .status(let s): s
        default: nil
        }
    }
    public var integer: Int64? { if case .integer(let i) = self { i } else { nil } }
    public var array: [RedisReply]? { if case .array(let a) = self { a } else { nil } }
    public var isNull: Bool { self == .null }
}

/// Why a command did not get a reply.
public enum RedisError: Error, Sendable, Equatable {
    /// No usable connection: none at the time of the call, the link dropped before the reply, or
    /// the client was closed.
    case disconnected
    /// No reply within `commandTimeoutMs`. The command may still have run on the server.
    case timeout
    /// The server answered with an error reply (`WRONGTYPE ...`, `ERR ...`).
    case server(String)
}

/// Where a Redis server is and how to log in.
///
/// URL forms: `redis://[[user]:password@]host[:port][/db]` (IPv6 literal in brackets; default
/// port 6379, db 0) and `unix://[[user]:password@]/path/to/socket[?db=N]`. User and password
/// may be percent-encoded. `rediss://` (TLS) is refused: hiredis 0.14 has no TLS.
public struct RedisEndpoint: Sendable, Equatable {
    /// Host name or IP literal (no brackets). Unused when `unixSocketPath` is set.
    public var host: String
    public var port: Int
    /// Connect over this Unix domain socket instead of TCP.
    public var unixSocketPath: String?
    /// Selected with `SELECT` after every (re)connect.
    public var db: Int
    /// Sent with `AUTH` before `SELECT`; `username` needs Redis 6 ACLs.
    public var username: String?
    public var password: String?

    public init(host: String, port: Int = 6379, db: Int = 0, username: String? = nil, password: String? = nil) {
        self.host = host
        self.port = port
        self.unixSocketPath = nil
        self.db = db
        self.username = username
        self.password = password
    }

    public init(unixSocketPath: String, db: Int = 0, username: String? = nil, password: String? = nil) {
        self.host = ""
        self.port = 0
        self.unixSocketPath = unixSocketPath
        self.db = db
        self.username = username
        self.password = password
    }

    public init?(url: String) {
        let isUnix: Bool
        var rest: Substring
        if url.hasPrefix("redis://") {
            isUnix = false
            rest = url.dropFirst("redis://".count)
        } else if url.hasPrefix("unix://") {
            isUnix = true
            rest = url.dropFirst("unix://".count)
        } else {
            return nil
        }

        // Credentials end at the last '@' before the path (a password may contain '/').
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = userinfo.firstIndex(of: ":") {
                let user = userinfo[..<colon]
                guard let u = Self.percentDecode(user),
                      let p = Self.percentDecode(userinfo[userinfo.index(after: colon)...]) else { return nil }
                username = user.isEmpty ? nil : u
                password = p
            } else {
                // `redis://secret@host` is the common legacy spelling of a password-only login.
                guard let p = Self.percentDecode(userinfo) else { return nil }
                password = p
            }
        }

        if isUnix {
            var path = rest
            var db = 0
            if let q = rest.firstIndex(of: "?") {
                path = rest[..<q]
                for pair in rest[rest.index(after: q)...].split(separator: "&") {
                    let kv = pair.split(separator: "=", maxSplits: 1)
                    guard kv.count == 2 else { return nil }
                    if kv[0] == "db" {
                        guard let n = Int(kv[1]), n >= 0 else { return nil }
                        db = n
                    }
                }
            }
            guard path.hasPrefix("/"), path.count > 1 else { return nil }
            self.init(unixSocketPath: String(path), db: db, username: username, password: password)
            return
        }

        var authority = rest
        var db = 0
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            let dbText = rest[rest.index(after: slash)...]
            if !dbText.isEmpty {
                guard let n = Int(dbText), n >= 0 else { return nil }
                db = n
            }
        }
        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return nil }
                portText = after.dropFirst()
            }
        } else if let colon = authority.firstIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        guard !host.isEmpty else { return nil }
        var port = 6379
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else { return nil }
            port = p
        }
        self.init(host: String(host), port: port, db: db, username: username, password: password)
    }

    /// The endpoint for logs: never shows the password.
    public var redacted: String {
        let auth = password == nil ? "" : "\(username ?? ""):***@"
        if let unixSocketPath {
            return "unix://\(auth)\(unixSocketPath)" + (db == 0 ? "" : "?db=\(db)")
        }
        let h = host.contains(":") ? "[\(host)]" : host
        return "redis://\(auth)\(h):\(port)/\(db)"
    }

    private static func percentDecode(_ s: Substring) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        var it = s.utf8.makeIterator()
        while let c = it.next() {
            if c == UInt8(ascii: "%") {
                guard let h = it.next().flatMap(hexValue), let l = it.next().flatMap(hexValue) else { return nil }
                out.append(h << 4 | l)
            } else {
                out.append(c)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

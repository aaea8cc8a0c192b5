/// One thing wrong with a configuration, named by where it is.
public struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    /// Dotted path of the offending key, e.g. `websocket.limits.idle_timeout`,
    /// `admin.auth.sigv4[0].secret_access_key` or `http.routes["GET /health"].integration`;
    /// empty for problems with the file as a whole (unreadable, YAML syntax).
    public var keyPath: String
    public var message: String

    public init(keyPath: String, message: String) {
        self.keyPath = keyPath
        self.message = message
    }

    /// `websocket.limits.idle_timeout: expected a duration like 500ms, 30s, 10m, 2h`.
    public var description: String {
        keyPath.isEmpty ? message : "\(keyPath): \(message)"
    }
}

/// Every problem found in one configuration, in document order.
public struct ConfigErrors: Error, Sendable, Equatable, CustomStringConvertible {
    public var problems: [ConfigProblem]

    public init(problems: [ConfigProblem]) {
        self.problems = problems
    }

    /// One problem per line.
    public var description: String {
        problems.map(\.description).joined(separator: "\n")
    }
}

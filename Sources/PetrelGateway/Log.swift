import Glibc

/// One JSON object per line on stdout. Each line goes out in a single `write(2)`, so lines from
/// several loop threads never interleave.
public enum Log {
    public enum Level: String, Sendable { case debug, info, warn, error }

    public static func info(_ msg: String, _ fields: KeyValuePairs<String, LogValue> = [:]) { emit(.info, msg, fields) }
    public static func warn(_ msg: String, _ fields: KeyValuePairs<String, LogValue> = [:]) { emit(.warn, msg, fields) }
    public static func error(_ msg: String, _ fields: KeyValuePairs<String, LogValue> = [:]) { emit(.error, msg, fields) }

    public static func emit(_ level: Level, _ msg: String, _ fields: KeyValuePairs<String, LogValue>) {
        var line = "{\"level\":\"\(level.rawValue)\",\"msg\":"
        JSONText.appendString(msg, to: &line)
        for (key, value) in fields {
            line += ","
            JSONText.appendString(key, to: &line)
            line += ":"
            switch value {
            case .string(let s): JSONText.appendString(s, to: &line)
            case .int(let i): line += String(i)
            case .bool(let b): line += b ? "true" : "false"
            }
        }
        line += "}\n"
        var bytes = Array(line.utf8)
        var offset = 0
        bytes.withUnsafeMutableBytes { buf in
            while offset < buf.count {
                let n = Glibc.write(1, buf.baseAddress! + offset, buf.count - offset)
                if n <= 0 { break }
                offset += n
            }
        }
    }
}

public enum LogValue: Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByStringInterpolation {
    case string(String)
    case int(Int)
    case bool(Bool)
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
}

/// Parses a listener address: `HOST:PORT` or `[IPv6]:PORT`, with a port from 0 to 65535
/// (0 lets the kernel pick, which tests use). The host comes back without brackets.
public func parseHostPort(_ text: String) -> (host: String, port: Int)? {
    let host: Substring
    let portText: Substring
    if text.hasPrefix("[") {
        guard let close = text.firstIndex(of: "]") else { return nil }
        host = text[text.index(after: text.startIndex)..<close]
        let rest = text[text.index(after: close)...]
        guard rest.hasPrefix(":") else { return nil }
        portText = rest.dropFirst()
    } else {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        host = text[..<colon]
        // An unbracketed IPv6 address is ambiguous (`::1:80`); insist on brackets.
        guard !host.contains(":") else { return nil }
        portText = text[text.index(after: colon)...]
    }
    guard !host.isEmpty, !host.contains(where: \.isWhitespace),
        !portText.isEmpty, portText.count <= 5, portText.utf8.allSatisfy({ decimalDigit($0) != nil }),
        let port = Int(portText), port <= 65_535
    else { return nil }
    return (String(host), port)
}

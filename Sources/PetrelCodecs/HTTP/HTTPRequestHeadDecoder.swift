/// Turns a complete, CRLF-checked header block into an `HTTPRequestHead` (RFC 9112 §3, §5).
///
/// `bytes` runs from the request line to the CRLF ending the last field line (the empty line is
/// not included). `HTTPRequestParser` has already checked that every LF follows a CR.
enum HTTPRequestHeadDecoder {
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> Result<HTTPRequestHead, HTTPParseError> {
        var lineStart = 0
        func nextLine() -> Range<Int>? {
            guard lineStart < bytes.count else { return nil }
            var lineFeed = lineStart
            while bytes[lineFeed] != HTTPSyntax.lineFeed { lineFeed += 1 }
            defer { lineStart = lineFeed + 1 }
            return lineStart..<(lineFeed - 1)
        }

        guard let requestLineRange = nextLine() else { return .failure(.malformedRequestLine) }
        let requestLine: RequestLine
        switch decodeRequestLine(UnsafeBufferPointer(rebasing: bytes[requestLineRange])) {
        case .success(let decoded): requestLine = decoded
        case .failure(let error): return .failure(error)
        }

        // One allocation of the exact size: every line left is a field line.
        var fieldLines = 0
        for byte in bytes[lineStart...] where byte == HTTPSyntax.lineFeed { fieldLines += 1 }
        var entries: [(name: String, value: String)] = []
        entries.reserveCapacity(fieldLines)
        while let lineRange = nextLine() {
            switch decodeFieldLine(UnsafeBufferPointer(rebasing: bytes[lineRange])) {
            case .success(let entry): entries.append(entry)
            case .failure(let error): return .failure(error)
            }
        }
        let headers = HTTPHeaders(entries)
        let hostCount = headers.count("Host")
        if hostCount > 1 { return .failure(.multipleHost) }
        if hostCount == 0 && requestLine.versionMinor >= 1 { return .failure(.missingHost) }
        return .success(HTTPRequestHead(
            method: requestLine.method, target: requestLine.target,
            versionMinor: requestLine.versionMinor, headers: headers))
    }

    private struct RequestLine {
        var method: String
        var target: String
        var versionMinor: Int
    }

    /// request-line = method SP request-target SP HTTP-version (RFC 9112 §3), exactly one SP each.
    private static func decodeRequestLine(_ line: UnsafeBufferPointer<UInt8>) -> Result<RequestLine, HTTPParseError> {
        guard let methodEnd = line.firstIndex(of: HTTPSyntax.space), methodEnd > 0 else {
            return .failure(.malformedRequestLine)
        }
        let method = UnsafeBufferPointer(rebasing: line[..<methodEnd])
        guard method.allSatisfy(HTTPSyntax.isTokenByte) else { return .failure(.invalidMethod) }

        let targetStart = methodEnd + 1
        guard let targetEnd = line[targetStart...].firstIndex(of: HTTPSyntax.space), targetEnd > targetStart else {
            return .failure(.malformedRequestLine)
        }
        let target = UnsafeBufferPointer(rebasing: line[targetStart..<targetEnd])
        guard target.allSatisfy(HTTPSyntax.isTargetByte) else { return .failure(.invalidTarget) }

        // HTTP-version = "HTTP" "/" DIGIT "." DIGIT (RFC 9112 §2.3); case-sensitive.
        let version = UnsafeBufferPointer(rebasing: line[(targetEnd + 1)...])
        guard version.count == 8, version[0] == UInt8(ascii: "H"), version[1] == UInt8(ascii: "T"),
              version[2] == UInt8(ascii: "T"), version[3] == UInt8(ascii: "P"), version[4] == UInt8(ascii: "/"),
              isDigit(version[5]), version[6] == UInt8(ascii: "."), isDigit(version[7]) else {
            return .failure(.malformedRequestLine)
        }
        guard version[5] == UInt8(ascii: "1"), version[7] <= UInt8(ascii: "1") else {
            return .failure(.unsupportedVersion)
        }
        return .success(RequestLine(
            method: methodName(method),
            target: String(decoding: target, as: UTF8.self),
            versionMinor: Int(version[7] - UInt8(ascii: "0"))))
    }

    /// field-line = field-name ":" OWS field-value OWS (RFC 9112 §5).
    private static func decodeFieldLine(_ line: UnsafeBufferPointer<UInt8>) -> Result<(name: String, value: String), HTTPParseError> {
        if let first = line.first, HTTPSyntax.isWhitespace(first) { return .failure(.obsoleteLineFolding) }
        guard let colon = line.firstIndex(of: HTTPSyntax.colon) else { return .failure(.missingColon) }
        let name = UnsafeBufferPointer(rebasing: line[..<colon])
        guard let lastNameByte = name.last else { return .failure(.invalidHeaderName) }
        if HTTPSyntax.isWhitespace(lastNameByte) { return .failure(.whitespaceBeforeColon) }
        guard name.allSatisfy(HTTPSyntax.isTokenByte) else { return .failure(.invalidHeaderName) }

        var valueStart = colon + 1
        var valueEnd = line.count
        while valueStart < valueEnd && HTTPSyntax.isWhitespace(line[valueStart]) { valueStart += 1 }
        while valueEnd > valueStart && HTTPSyntax.isWhitespace(line[valueEnd - 1]) { valueEnd -= 1 }
        let value = UnsafeBufferPointer(rebasing: line[valueStart..<valueEnd])
        guard value.allSatisfy(HTTPSyntax.isFieldValueByte) else { return .failure(.invalidHeaderValue) }
        return .success((
            name: String(decoding: name, as: UTF8.self),
            value: String(decoding: value, as: UTF8.self)))
    }

    /// The common methods as literals (no validation or copy per request), others decoded.
    private static func methodName(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        func equals(_ literal: StaticString) -> Bool {
            guard bytes.count == literal.utf8CodeUnitCount else { return false }
            for i in 0..<bytes.count where bytes[i] != literal.utf8Start[i] { return false }
            return true
        }
        switch bytes.count {
        case 3: if equals("GET") { return "GET" } else if equals("PUT") { return "PUT" }
        case 4: if equals("POST") { return "POST" } else if equals("HEAD") { return "HEAD" }
        case 5: if equals("PATCH") { return "PATCH" }
        case 6: if equals("DELETE") { return "DELETE" }
        case 7: if equals("OPTIONS") { return "OPTIONS" }
        default: break
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}

/// Parses a duration: one or more `<digits><unit>` parts with units `ms`, `s`, `m`, `h`, e.g.
/// `500ms`, `30s`, `10m`, `2h`, `1h30m`. A bare number is rejected on purpose: whether `30`
/// meant seconds or milliseconds is exactly the mistake a unit prevents.
public func parseDuration(_ text: String) -> Milliseconds? {
    let bytes = Array(text.utf8)
    guard !bytes.isEmpty else { return nil }
    var total: Milliseconds = 0
    var index = 0
    while index < bytes.count {
        var amount: Milliseconds = 0
        let digitsStart = index
        while index < bytes.count, let digit = decimalDigit(bytes[index]) {
            let (times10, overflow1) = amount.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Milliseconds(digit))
            guard !overflow1, !overflow2 else { return nil }
            amount = sum
            index += 1
        }
        guard index > digitsStart else { return nil }
        let unitStart = index
        while index < bytes.count, decimalDigit(bytes[index]) == nil { index += 1 }
        let scale: Milliseconds
        switch String(decoding: bytes[unitStart..<index], as: UTF8.self) {
        case "ms": scale = 1
        case "s": scale = 1_000
        case "m": scale = 60_000
        case "h": scale = 3_600_000
        default: return nil
        }
        let (part, overflow1) = amount.multipliedReportingOverflow(by: scale)
        let (sum, overflow2) = total.addingReportingOverflow(part)
        guard !overflow1, !overflow2 else { return nil }
        total = sum
    }
    return total
}

func decimalDigit(_ byte: UInt8) -> Int? {
    (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) ? Int(byte - UInt8(ascii: "0")) : nil
}

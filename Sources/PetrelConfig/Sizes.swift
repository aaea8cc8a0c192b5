/// Parses a size in bytes: a plain integer (`131072`), or one with a binary suffix `B`, `KiB`,
/// `MiB` or `GiB` (`128KiB`, `1 MiB`). Decimal `KB`/`MB` are rejected: they are routinely
/// misread as binary, and a limit that is off by 2.4% is a bug report waiting to happen.
public func parseSize(_ text: String) -> Int? {
    var digits = Substring(text)
    var scale = 1
    for (suffix, factor) in [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("B", 1)] where digits.hasSuffix(suffix) {
        digits = digits.dropLast(suffix.count)
        if digits.hasSuffix(" ") { digits = digits.dropLast() }
        scale = factor
        break
    }
    guard !digits.isEmpty, digits.utf8.allSatisfy({ decimalDigit($0) != nil }), let amount = Int(digits) else { return nil }
    let (bytes, overflow) = amount.multipliedReportingOverflow(by: scale)
    return overflow ? nil : bytes
}

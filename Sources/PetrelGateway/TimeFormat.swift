import Glibc

/// The two timestamp shapes API Gateway uses: ISO 8601 (`@connections` GET) and CLF
/// (`requestTime` in events, `20/Jan/2024:11:55:00 +0000`).
enum TimeFormat {
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    private static func utc(_ epochMs: Int64) -> tm {
        var seconds = time_t(epochMs / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return parts
    }

    private static func pad(_ v: Int32, _ width: Int = 2) -> String {
        let s = String(v)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }

    static func iso8601(_ epochMs: Int64) -> String {
        let t = utc(epochMs)
        return "\(t.tm_year + 1900)-\(pad(t.tm_mon + 1))-\(pad(t.tm_mday))T\(pad(t.tm_hour)):\(pad(t.tm_min)):\(pad(t.tm_sec)).\(pad(Int32(epochMs % 1000), 3))Z"
    }

    static func clf(_ epochMs: Int64) -> String {
        let t = utc(epochMs)
        return "\(pad(t.tm_mday))/\(months[Int(t.tm_mon)])/\(t.tm_year + 1900):\(pad(t.tm_hour)):\(pad(t.tm_min)):\(pad(t.tm_sec)) +0000"
    }
}

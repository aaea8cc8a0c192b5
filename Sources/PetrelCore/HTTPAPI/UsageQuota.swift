/// A usage plan's quota (API Gateway REST's usage plans): at most `limit` requests per UTC day,
/// week (from Monday) or month. Time is injected as epoch milliseconds, so tests use fixed dates.
public struct UsageQuota: Sendable, Equatable {
    public enum Period: String, Sendable, CaseIterable {
        case day, week, month
    }

    public let limit: Int
    public let period: Period
    public private(set) var used: Int
    /// Epoch ms at which the current period began.
    public private(set) var periodStartMs: Int64

    public init(limit: Int, period: Period, used: Int = 0, periodStartMs: Int64 = 0) {
        self.limit = limit
        self.period = period
        self.used = used
        self.periodStartMs = periodStartMs
    }

    /// Counts one request if the quota allows it; a new period starts from zero.
    public mutating func tryUse(nowMs: Int64) -> Bool {
        let start = Self.periodStart(nowMs, period)
        if start != periodStartMs {
            periodStartMs = start
            used = 0
        }
        guard used < limit else { return false }
        used += 1
        return true
    }

    /// Requests left in the current period.
    public func remaining(nowMs: Int64) -> Int {
        Self.periodStart(nowMs, period) == periodStartMs ? max(0, limit - used) : limit
    }

    /// The start (epoch ms, UTC) of the period holding `ms`.
    public static func periodStart(_ ms: Int64, _ period: Period) -> Int64 {
        let dayMs: Int64 = 86_400_000
        let day = floorDiv(ms, dayMs)
        switch period {
        case .day:
            return day * dayMs
        case .week:
            // 1970-01-01 was a Thursday; Monday-based weeks start 3 days before it.
            return (floorDiv(day + 3, 7) * 7 - 3) * dayMs
        case .month:
            let (year, month, _) = civil(fromDays: day)
            return daysFromCivil(year: year, month: month, day: 1) * dayMs
        }
    }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        a >= 0 ? a / b : -((-a + b - 1) / b)
    }

    /// H. Hinnant's civil-from-days (proleptic Gregorian).
    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

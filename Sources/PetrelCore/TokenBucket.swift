/// A token bucket: `rate` tokens per second, at most `burst` stored. Time is injected in
/// milliseconds so tests drive it with a manual clock.
public struct TokenBucket: Sendable {
    public let rate: Double
    public let burst: Double
    private var tokens: Double
    private var lastRefillMs: Int64

    public init(rate: Double, burst: Int, nowMs: Int64) {
        self.rate = rate
        self.burst = Double(max(burst, 1))
        self.tokens = self.burst
        self.lastRefillMs = nowMs
    }

    /// Takes one token if there is one.
    public mutating func tryTake(nowMs: Int64) -> Bool {
        if nowMs > lastRefillMs {
            tokens = min(burst, tokens + Double(nowMs - lastRefillMs) * rate / 1000)
            lastRefillMs = nowMs
        }
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    /// Seconds until one token is available (for Retry-After), at least 1.
    public func secondsUntilNextToken() -> Int {
        guard rate > 0 else { return 1 }
        return max(1, Int(((1 - tokens) / rate).rounded(.up)))
    }
}

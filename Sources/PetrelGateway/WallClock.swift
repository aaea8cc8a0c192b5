import Glibc

/// Epoch milliseconds, for the timestamps events and logs report (`connectedAt`).
/// Deadlines use the loop's monotonic time instead.
enum WallClock {
    static func nowMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

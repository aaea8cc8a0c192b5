import CLibUV

/// libuv's monotonic clock in milliseconds: the same base as every loop's `uv_now`.
enum MonotonicClock {
    static func nowMs() -> UInt64 { uv_hrtime() / 1_000_000 }
}

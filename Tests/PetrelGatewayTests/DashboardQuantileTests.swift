import Testing
@testable import PetrelGateway

/// The dashboard's latency percentiles follow Prometheus' `histogram_quantile`.
@Test func quantilesInterpolateWithinTheBucket() {
    let bounds = [0.01, 0.1, 1.0]
    // 10 observations ≤ 10 ms, 10 in (10 ms, 100 ms], none above.
    let h = HistogramValue(buckets: [10, 10, 0, 0], sum: 0, count: 20)
    #expect(DashboardSnapshot.quantile(0.5, h, bounds: bounds) == 0.01)
    #expect(abs(DashboardSnapshot.quantile(0.75, h, bounds: bounds)! - 0.055) < 1e-12)
    #expect(DashboardSnapshot.quantile(0.25, h, bounds: bounds) == 0.005)
    // A rank in +Inf reads as the largest finite bound; no observations, no answer.
    #expect(DashboardSnapshot.quantile(0.99, HistogramValue(buckets: [0, 0, 0, 5], sum: 0, count: 5), bounds: bounds) == 1.0)
    #expect(DashboardSnapshot.quantile(0.5, HistogramValue(bucketCount: 3), bounds: bounds) == nil)
}

import Testing
@testable import PetrelCore

@Test func bucketAllowsBurstThenRefusesUntilRefilled() {
    var bucket = TokenBucket(rate: 1, burst: 2, nowMs: 0)
    do { let ok = bucket.tryTake(nowMs: 0); #expect(ok) }
    do { let ok = bucket.tryTake(nowMs: 0); #expect(ok) }
    do { let ok = bucket.tryTake(nowMs: 0); #expect(!ok) }
    do { let ok = bucket.tryTake(nowMs: 999); #expect(!ok) }
    do { let ok = bucket.tryTake(nowMs: 1000); #expect(ok) }
}

@Test func bucketNeverStoresMoreThanBurst() {
    var bucket = TokenBucket(rate: 100, burst: 3, nowMs: 0)
    var taken = 0
    while bucket.tryTake(nowMs: 60_000) { taken += 1 }
    #expect(taken == 3)
}

@Test func retryAfterIsAtLeastOneSecond() {
    var bucket = TokenBucket(rate: 0.5, burst: 1, nowMs: 0)
    do { let ok = bucket.tryTake(nowMs: 0); #expect(ok) }
    #expect(bucket.secondsUntilNextToken() == 2)
}

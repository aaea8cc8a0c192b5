import Testing
@testable import PetrelCore

@Suite struct CORSPolicyTests {
    let specific = CORSPolicy(allowOrigins: ["https://app.example"], allowMethods: ["GET", "POST"],
                              allowHeaders: ["authorization", "content-type"], exposeHeaders: ["x-request-id"],
                              maxAge: 600, allowCredentials: true)
    let open = CORSPolicy(allowOrigins: ["*"], allowMethods: ["*"], allowHeaders: ["*"])

    @Test func preflightIsOptionsWithOriginAndRequestMethod() {
        #expect(CORSPolicy.isPreflight(method: "OPTIONS", origin: "https://a", requestMethod: "GET"))
        #expect(!CORSPolicy.isPreflight(method: "OPTIONS", origin: nil, requestMethod: "GET"))
        #expect(!CORSPolicy.isPreflight(method: "OPTIONS", origin: "https://a", requestMethod: nil))
        #expect(!CORSPolicy.isPreflight(method: "GET", origin: "https://a", requestMethod: "GET"))
    }

    @Test func preflightForAllowedOriginEchoesItWithCredentials() {
        let headers = specific.preflightHeaders(origin: "https://APP.example", requestMethod: "POST", requestHeaders: "content-type")
        #expect(headers.map { "\($0.0): \($0.1)" } == [
            "access-control-allow-origin: https://APP.example", "vary: Origin", "access-control-allow-credentials: true",
            "access-control-allow-methods: GET,POST", "access-control-allow-headers: authorization,content-type",
            "access-control-max-age: 600",
        ])
    }

    @Test func preflightRefusedOriginOrMethodGetsNoHeaders() {
        #expect(specific.preflightHeaders(origin: "https://evil.example", requestMethod: "GET", requestHeaders: nil).isEmpty)
        #expect(specific.preflightHeaders(origin: "https://app.example", requestMethod: "DELETE", requestHeaders: nil).isEmpty)
    }

    @Test func wildcardsEchoWhatWasAsked() {
        let headers = Dictionary(uniqueKeysWithValues: open.preflightHeaders(origin: "https://x", requestMethod: "put",
                                                                            requestHeaders: " x-a, x-b ").map { ($0.0, $0.1) })
        #expect(headers["access-control-allow-origin"] == "*")
        #expect(headers["access-control-allow-methods"] == "PUT")
        #expect(headers["access-control-allow-headers"] == "x-a, x-b")
        #expect(headers["vary"] == nil)
    }

    @Test func actualResponsesGetOriginAndExposeHeaders() {
        #expect(specific.responseHeaders(origin: "https://app.example").map(\.0) ==
                ["access-control-allow-origin", "vary", "access-control-allow-credentials", "access-control-expose-headers"])
        #expect(specific.responseHeaders(origin: "https://other.example").isEmpty)
        #expect(specific.responseHeaders(origin: nil).isEmpty)
        #expect(open.responseHeaders(origin: "https://any").map { "\($0.0)=\($0.1)" } == ["access-control-allow-origin=*"])
    }

    @Test func backendCORSHeadersAreRecognised() {
        #expect(CORSPolicy.isCORSResponseHeader("Access-Control-Allow-Origin"))
        #expect(!CORSPolicy.isCORSResponseHeader("content-type"))
    }
}

@Suite struct UsageQuotaTests {
    // 2024-02-29T23:59:59Z and neighbours.
    let leapEvening: Int64 = 1_709_251_199_000

    @Test func countsExactlyTheLimitThenRefuses() {
        var quota = UsageQuota(limit: 3, period: .day)
        var results: [Bool] = []
        for _ in 0..<5 { results.append(quota.tryUse(nowMs: leapEvening)) }
        #expect(results == [true, true, true, false, false])
        #expect(quota.remaining(nowMs: leapEvening) == 0)
        let nextDay = quota.tryUse(nowMs: leapEvening + 1000)   // 2024-03-01: a new day
        #expect(nextDay)
        #expect(quota.remaining(nowMs: leapEvening + 1000) == 2)
    }

    @Test func periodStarts() {
        #expect(UsageQuota.periodStart(leapEvening, .day) == 1_709_164_800_000)      // 2024-02-29T00:00Z
        #expect(UsageQuota.periodStart(leapEvening, .month) == 1_706_745_600_000)    // 2024-02-01T00:00Z
        #expect(UsageQuota.periodStart(leapEvening, .week) == 1_708_905_600_000)     // Monday 2024-02-26
        #expect(UsageQuota.periodStart(0, .week) == -259_200_000)                     // Monday 1969-12-29
    }
}

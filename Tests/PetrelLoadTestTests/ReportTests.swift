import Testing
@testable import PetrelLoadTestKit

private func sampleResult() -> RunResult {
    var r = RunResult(options: LoadTestOptions(scenario: .echo, target: TargetURL("ws://127.0.0.1:8080/")!))
    r.messages = 1000
    r.sent = 1002
    r.errorsByKind = ["payload_mismatch": 2, "refused": 1]
    for v in 1...1000 { r.histogram.record(UInt64(v) * 1000) }
    r.measuredSeconds = 2
    r.series = [
        SeriesPoint(t: 0.1, seconds: 0.1, phase: "opening", messages: 0, errors: 1, open: 10, p50Us: 0, p99Us: 0, maxUs: 0),
        SeriesPoint(t: 1.1, seconds: 1, phase: "measure", messages: 500, errors: 1, open: 10, p50Us: 250, p99Us: 495, maxUs: 500),
        SeriesPoint(t: 2.1, seconds: 1, phase: "measure", messages: 500, errors: 1, open: 10, p50Us: 750, p99Us: 995, maxUs: 1000),
    ]
    return r
}

@Test func jsonHasTheContractTopLevel() {
    guard case .object(let top) = Report.json(sampleResult()) else { Issue.record("not an object"); return }
    #expect(top.map { $0.0 } == ["scenario", "params", "totals", "latency_us", "throughput_per_s", "series"])
    let text = Report.json(sampleResult()).render()
    #expect(text.contains(#""errors_by_kind": {"#))
    #expect(text.contains(#""payload_mismatch": 2"#))
    #expect(text.contains(#""throughput_per_s": 500"#))
    #expect(text.contains(#""p50": 500"#))
}

@Test func htmlIsSelfContainedWithCharts() {
    let html = HTMLReport.render(sampleResult())
    #expect(html.contains("<svg"))
    #expect(html.contains("class=\"series\""))
    #expect(!html.contains("<script"))
    #expect(!html.contains("http://cdn") && !html.contains("https://"))
}

@Test func tableNamesErrorsAndPercentiles() {
    let table = Report.table(sampleResult())
    #expect(table.contains("payload_mismatch"))
    #expect(table.contains("p99.9"))
    #expect(table.contains("500.0 /s"))
}

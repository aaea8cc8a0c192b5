import Testing
@testable import PetrelGateway

/// The hand-written exposition (Prometheus text format 0.0.4).
@Suite struct PrometheusTextTests {
    @Test func everyFamilyHasHelpAndTypeInTableOrder() {
        let text = PrometheusText.render(MetricSet())
        let names = text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { $0.split(separator: " ")[2] }
        #expect(names.map(String.init) == Metric.allCases.map(\.info.name))
        #expect(text.contains("# HELP petrel_connects_total WebSocket connections accepted (101 sent).\n# TYPE petrel_connects_total counter\n"))
        #expect(text.contains("# TYPE petrel_integration_duration_seconds histogram\n"))
        #expect(text.contains("# TYPE petrel_connections_open gauge\n"))
    }

    @Test func designFixedNamesHaveTheirLabels() {
        let fixed: [(String, [String])] = [
            ("petrel_connects_total", []), ("petrel_disconnects_total", ["reason"]),
            ("petrel_connections_open", ["loop"]), ("petrel_messages_total", ["direction", "route"]),
            ("petrel_http_requests_total", ["route", "status"]), ("petrel_integration_duration_seconds", ["route"]),
        ]
        for (name, labels) in fixed {
            let metric = Metric.allCases.first { $0.info.name == name }
            #expect(metric?.info.labels == labels, "\(name)")
        }
        #expect(Metric.allCases.allSatisfy { $0.info.name.hasPrefix("petrel_") })
        #expect(Set(Metric.allCases.map(\.info.name)).count == Metric.allCases.count)
    }

    @Test func samplesAreSortedAndLabelled() {
        var set = MetricSet()
        set.add(.messages, ["out", "chat"], 2)
        set.add(.messages, ["in", "chat"], 5)
        set.add(.connects, [], 3)
        let text = PrometheusText.render(set)
        #expect(text.contains("\npetrel_connects_total 3\n"))
        let messages = text.split(separator: "\n").filter { $0.hasPrefix("petrel_messages_total{") }
        #expect(messages == ["petrel_messages_total{direction=\"in\",route=\"chat\"} 5",
                             "petrel_messages_total{direction=\"out\",route=\"chat\"} 2"])
    }

    @Test func labelValuesAndHelpAreEscaped() {
        #expect(PrometheusText.escapeLabelValue(#"a"b\c"# + "\nd") == #"a\"b\\c\nd"#)
        #expect(PrometheusText.escapeLabelValue("plain $default") == "plain $default")
        #expect(PrometheusText.escapeHelp("x \\ y\n\"z\"") == #"x \\ y\n"z""#)
        var set = MetricSet()
        set.add(.messages, ["in", "say \"hi\"\\now\n"], 1)
        #expect(PrometheusText.render(set).contains(#"petrel_messages_total{direction="in",route="say \"hi\"\\now\n"} 1"#))
    }

    @Test func numbersFormatLikePrometheus() {
        #expect(PrometheusText.number(3) == "3")
        #expect(PrometheusText.number(0.25) == "0.25")
        #expect(PrometheusText.number(0.0025) == "0.0025")
        #expect(PrometheusText.number(.infinity) == "+Inf")
        #expect(PrometheusText.number(-.infinity) == "-Inf")
        #expect(PrometheusText.number(.nan) == "NaN")
        #expect(PrometheusText.number(1.5e20) == "1.5e+20")
    }

    @Test func histogramBucketsAreCumulativeWithSumAndCount() {
        let bounds = Metric.latencyBuckets
        var h = HistogramValue(bucketCount: bounds.count)
        h.buckets[0] = 1          // ≤ 1 ms
        h.buckets[3] = 2          // ≤ 10 ms
        h.buckets[bounds.count] = 1  // > 30 s
        h.sum = 45.5
        h.count = 4
        var set = MetricSet()
        set.add(.integrationDuration, ["chat"], histogram: h)
        let lines = PrometheusText.render(set).split(separator: "\n").filter { $0.hasPrefix("petrel_integration_duration_seconds") }
        #expect(lines.first == #"petrel_integration_duration_seconds_bucket{route="chat",le="0.001"} 1"#)
        #expect(lines.contains(#"petrel_integration_duration_seconds_bucket{route="chat",le="0.005"} 1"#))
        #expect(lines.contains(#"petrel_integration_duration_seconds_bucket{route="chat",le="0.01"} 3"#))
        #expect(lines.contains(#"petrel_integration_duration_seconds_bucket{route="chat",le="30"} 3"#))
        #expect(lines.contains(#"petrel_integration_duration_seconds_bucket{route="chat",le="+Inf"} 4"#))
        #expect(lines.suffix(2) == [#"petrel_integration_duration_seconds_sum{route="chat"} 45.5"#,
                                    #"petrel_integration_duration_seconds_count{route="chat"} 4"#])
        #expect(lines.count == bounds.count + 3)
    }

    @Test func mergingAddsCountersAndHistograms() {
        var a = MetricSet()
        a.add(.connects, [], 2)
        a.add(.connectionsOpen, ["0"], 5)
        var h = HistogramValue(bucketCount: Metric.lagBuckets.count)
        h.buckets[1] = 1
        h.sum = 0.002
        h.count = 1
        a.add(.loopLag, ["0"], histogram: h)
        var b = MetricSet()
        b.add(.connects, [], 3)
        b.add(.connectionsOpen, ["1"], 7)
        b.add(.loopLag, ["0"], histogram: h)
        a.merge(b)
        #expect(a.values[.connects]?[[]] == .scalar(5))
        #expect(a.values[.connectionsOpen]?[["0"]] == .scalar(5))
        #expect(a.values[.connectionsOpen]?[["1"]] == .scalar(7))
        guard case .histogram(let merged)? = a.values[.loopLag]?[["0"]] else {
            Issue.record("no histogram")
            return
        }
        #expect(merged.count == 2 && merged.buckets[1] == 2 && merged.sum == 0.004)
    }
}

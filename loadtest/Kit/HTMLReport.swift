import Foundation

/// `--html FILE`: one self-contained page (inline SVG, inline CSS, no script, no network) with
/// the run's parameters, totals, and charts of throughput and latency percentiles over time.
public enum HTMLReport {
    struct Line {
        var name: String
        var color: String
        var points: [(Double, Double)]
    }

    public static func render(_ r: RunResult) -> String {
        let o = r.options
        let unit = Report.unitName(o.scenario)
        let measured = r.series.filter { $0.phase == "measure" }
        let throughput = Line(name: "\(unit)/s", color: "#2563eb", points: r.series.map { ($0.t, $0.throughputPerS) })
        let p50 = Line(name: "p50", color: "#16a34a", points: r.series.map { ($0.t, $0.p50Us / 1000) })
        let p99 = Line(name: "p99", color: "#ea580c", points: r.series.map { ($0.t, $0.p99Us / 1000) })
        let maxLine = Line(name: "max", color: "#dc2626", points: r.series.map { ($0.t, $0.maxUs / 1000) })
        let open = Line(name: "open connections", color: "#7c3aed", points: r.series.map { ($0.t, Double($0.open)) })
        let errors = Line(name: "errors", color: "#dc2626", points: r.series.map { ($0.t, Double($0.errors)) })
        var spectrum: [(Double, Double)] = []
        if r.histogram.totalCount > 0 {
            for p in [0.0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999] {
                // x: "nines" (log10 of 1/(1-p)), the usual HdrHistogram percentile-spectrum axis.
                let x = p >= 100 ? 5 : -log10(max(1e-5, 1 - p / 100))
                spectrum.append((x, Double(r.histogram.valueAtPercentile(p)) / 1e6))
            }
            spectrum.append((5.3, r.maxUs / 1000))
        }
        let phases = phaseBands(r.series)

        var html = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <title>petrel-loadtest \(esc(o.scenario.rawValue)) — \(esc(o.target.description))</title>
        <style>
        body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1100px;color:#111;padding:0 16px}
        h1{font-size:22px;margin:0 0 4px} h2{font-size:16px;margin:28px 0 8px}
        .sub{color:#555;margin-bottom:16px}
        .cards{display:flex;flex-wrap:wrap;gap:12px}
        .card{border:1px solid #ddd;border-radius:8px;padding:10px 14px;min-width:140px}
        .card b{display:block;font-size:20px}
        table{border-collapse:collapse} td,th{border-bottom:1px solid #eee;padding:3px 12px 3px 0;text-align:left}
        .warn{color:#b45309}
        svg{background:#fff;border:1px solid #e5e7eb;border-radius:6px}
        .charts{display:grid;grid-template-columns:1fr 1fr;gap:16px}
        @media (max-width:900px){.charts{grid-template-columns:1fr}}
        </style></head><body>
        <h1>petrel-loadtest <code>\(esc(o.scenario.rawValue))</code></h1>
        <div class="sub">\(esc(o.target.description)) · started \(esc(ISO8601DateFormatter().string(from: r.startedAt))) · measured \(String(format: "%.1f", r.measuredSeconds)) s</div>
        <div class="cards">
        <div class="card">\(esc(unit))/s<b>\(String(format: "%.0f", r.throughputPerS))</b></div>
        <div class="card">\(esc(unit))<b>\(r.messages)</b></div>
        <div class="card">errors<b>\(r.errors)</b>\(String(format: "%.3f", r.errorRate * 100)) %</div>
        <div class="card">p50<b>\(esc(Report.formatUs(r.percentileUs(50))))</b></div>
        <div class="card">p99<b>\(esc(Report.formatUs(r.percentileUs(99))))</b></div>
        <div class="card">p99.9<b>\(esc(Report.formatUs(r.percentileUs(99.9))))</b></div>
        <div class="card">max<b>\(esc(Report.formatUs(r.maxUs)))</b></div>
        </div>

        """
        for w in r.warnings { html += "<p class=\"warn\">⚠ \(esc(w))</p>\n" }
        html += "<h2>Charts</h2>\n<div class=\"charts\">\n"
        html += chart(id: "throughput", title: "Throughput (\(unit)/s) over time", xLabel: "s", yLabel: "\(unit)/s", lines: [throughput], bands: phases)
        html += chart(id: "latency", title: "Latency percentiles per second (ms)" + (o.isOpenLoop ? ", from intended send time" : ""),
                      xLabel: "s", yLabel: "ms", lines: [p50, p99, maxLine], bands: phases)
        html += chart(id: "spectrum", title: "Latency by percentile, measured window (ms)", xLabel: "percentile", yLabel: "ms",
                      lines: [Line(name: "latency", color: "#0891b2", points: spectrum)], bands: [], percentileAxis: true)
        html += chart(id: "connections", title: "Open connections and errors", xLabel: "s", yLabel: "count", lines: [open, errors], bands: phases)
        html += "</div>\n"
        html += "<h2>Latency (measured window)</h2>\n<table><tr><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr><tr>"
        for v in [r.percentileUs(50), r.percentileUs(90), r.percentileUs(99), r.percentileUs(99.9), r.maxUs] {
            html += "<td>\(esc(Report.formatUs(v)))</td>"
        }
        html += "</tr></table>\n"
        html += "<h2>Errors by kind</h2>\n"
        if r.errorsByKind.isEmpty {
            html += "<p>none</p>\n"
        } else {
            html += "<table>" + r.errorsByKind.sorted { $0.value > $1.value }.map { "<tr><td>\(esc($0.key))</td><td>\($0.value)</td></tr>" }.joined() + "</table>\n"
        }
        html += "<h2>Parameters</h2>\n<table>"
        if case .object(let pairs) = Report.params(o) {
            for (k, v) in pairs { html += "<tr><td>\(esc(k))</td><td>\(esc(v.renderCompact()))</td></tr>" }
        }
        html += "</table>\n<h2>Totals</h2>\n<table>"
        if case .object(let top) = Report.json(r), let totals = top.first(where: { $0.0 == "totals" })?.1, case .object(let pairs) = totals {
            for (k, v) in pairs where k != "errors_by_kind" { html += "<tr><td>\(esc(k))</td><td>\(esc(v.renderCompact()))</td></tr>" }
        }
        html += "</table>\n<h2>Per second</h2>\n<table><tr><th>t (s)</th><th>phase</th><th>\(esc(unit))/s</th><th>errors</th><th>open</th><th>p50</th><th>p99</th><th>max</th></tr>"
        for p in r.series {
            html += "<tr><td>\(String(format: "%.1f", p.t))</td><td>\(esc(p.phase))</td><td>\(String(format: "%.0f", p.throughputPerS))</td><td>\(p.errors)</td><td>\(p.open)</td>"
            html += "<td>\(esc(Report.formatUs(p.p50Us)))</td><td>\(esc(Report.formatUs(p.p99Us)))</td><td>\(esc(Report.formatUs(p.maxUs)))</td></tr>"
        }
        html += "</table>\n<p class=\"sub\">\(measured.count) measured intervals. Generated by petrel-loadtest.</p>\n</body></html>\n"
        return html
    }

    static func phaseBands(_ series: [SeriesPoint]) -> [(Double, Double, String)] {
        var bands: [(Double, Double, String)] = []
        for p in series where p.phase != "measure" {
            let start = p.t - p.seconds
            if let last = bands.last, last.2 == p.phase, abs(last.1 - start) < 1e-6 {
                bands[bands.count - 1].1 = p.t
            } else {
                bands.append((start, p.t, p.phase))
            }
        }
        return bands
    }

    /// One line chart as inline SVG: axes with ticks, a polyline (and dots) per line, a legend,
    /// grey bands for the phases before the measured window.
    static func chart(id: String, title: String, xLabel: String, yLabel: String, lines: [Line],
                      bands: [(Double, Double, String)], percentileAxis: Bool = false) -> String {
        let w = 520.0, h = 300.0, left = 64.0, right = 16.0, top = 34.0, bottom = 42.0
        let pw = w - left - right, ph = h - top - bottom
        let all = lines.flatMap { $0.points }
        var xMin = all.map { $0.0 }.min() ?? 0
        var xMax = all.map { $0.0 }.max() ?? 1
        for b in bands { xMin = min(xMin, b.0); xMax = max(xMax, b.1) }
        if percentileAxis { xMin = 0; xMax = max(xMax, 5.3) } else { xMin = min(xMin, 0) }
        if xMax <= xMin { xMax = xMin + 1 }
        var yMax = all.map { $0.1 }.max() ?? 1
        if !(yMax > 0) { yMax = 1 }
        let yStep = niceStep(yMax / 4)
        yMax = (yMax / yStep).rounded(.up) * yStep
        func sx(_ x: Double) -> Double { left + (x - xMin) / (xMax - xMin) * pw }
        func sy(_ y: Double) -> Double { top + ph - y / yMax * ph }
        var s = "<figure style=\"margin:0\"><svg id=\"chart-\(id)\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" width=\"100%\" role=\"img\" aria-label=\"\(esc(title))\">\n"
        s += "<text x=\"\(Int(left))\" y=\"20\" font-size=\"14\" font-weight=\"600\">\(esc(title))</text>\n"
        for b in bands {
            s += "<rect x=\(q(sx(b.0))) y=\(q(top)) width=\(q(max(0, sx(b.1) - sx(b.0)))) height=\(q(ph)) fill=\"#f3f4f6\"><title>\(esc(b.2))</title></rect>\n"
        }
        // Y grid and labels
        var y = 0.0
        while y <= yMax + yStep / 2 {
            s += "<line x1=\(q(left)) x2=\(q(left + pw)) y1=\(q(sy(y))) y2=\(q(sy(y))) stroke=\"#e5e7eb\"/>"
            s += "<text x=\(q(left - 6)) y=\(q(sy(y) + 4)) font-size=\"11\" text-anchor=\"end\" fill=\"#555\">\(esc(tickLabel(y)))</text>\n"
            y += yStep
        }
        // X ticks
        if percentileAxis {
            for (x, label) in [(0.0, "0%"), (1.0, "90%"), (2.0, "99%"), (3.0, "99.9%"), (4.0, "99.99%"), (5.0, "99.999%")] {
                s += "<text x=\(q(sx(x))) y=\(q(top + ph + 16)) font-size=\"11\" text-anchor=\"middle\" fill=\"#555\">\(label)</text>"
            }
        } else {
            let xStep = niceStep((xMax - xMin) / 6)
            var x = (xMin / xStep).rounded(.up) * xStep
            while x <= xMax + 1e-9 {
                s += "<text x=\(q(sx(x))) y=\(q(top + ph + 16)) font-size=\"11\" text-anchor=\"middle\" fill=\"#555\">\(esc(tickLabel(x)))</text>"
                x += xStep
            }
        }
        s += "\n<line x1=\(q(left)) x2=\(q(left)) y1=\(q(top)) y2=\(q(top + ph)) stroke=\"#333\"/>"
        s += "<line x1=\(q(left)) x2=\(q(left + pw)) y1=\(q(top + ph)) y2=\(q(top + ph)) stroke=\"#333\"/>\n"
        s += "<text x=\(q(left + pw / 2)) y=\(q(h - 6)) font-size=\"11\" text-anchor=\"middle\" fill=\"#333\">\(esc(xLabel))</text>"
        s += "<text x=\"12\" y=\(q(top + ph / 2)) font-size=\"11\" text-anchor=\"middle\" fill=\"#333\" transform=\"rotate(-90 12 \(Int(top + ph / 2)))\">\(esc(yLabel))</text>\n"
        for line in lines where !line.points.isEmpty {
            let pts = line.points.map { "\(fmt(sx($0.0))),\(fmt(sy($0.1)))" }.joined(separator: " ")
            s += "<polyline class=\"series\" data-name=\"\(esc(line.name))\" data-points=\"\(line.points.count)\" fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2\" points=\"\(pts)\"/>\n"
            for p in line.points {
                s += "<circle cx=\(q(sx(p.0))) cy=\(q(sy(p.1))) r=\"2.5\" fill=\"\(line.color)\"><title>\(esc(line.name)) \(esc(tickLabel(p.1)))</title></circle>"
            }
            s += "\n"
        }
        var lx = left + 8
        for line in lines {
            s += "<rect x=\(q(lx)) y=\(q(top + 4)) width=\"10\" height=\"10\" fill=\"\(line.color)\"/><text x=\(q(lx + 14)) y=\(q(top + 13)) font-size=\"11\">\(esc(line.name))</text>"
            lx += 24 + Double(line.name.count) * 6.5
        }
        s += "\n</svg></figure>\n"
        return s
    }

    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let mag = pow(10, floor(log10(raw)))
        let f = raw / mag
        let nice: Double = f <= 1 ? 1 : (f <= 2 ? 2 : (f <= 5 ? 5 : 10))
        return nice * mag
    }

    static func tickLabel(_ v: Double) -> String {
        if v == 0 { return "0" }
        if abs(v) >= 1_000_000 { return String(format: "%.1fM", v / 1_000_000) }
        if abs(v) >= 10_000 { return String(format: "%.0fk", v / 1000) }
        if abs(v) >= 100 { return String(format: "%.0f", v) }
        if abs(v) >= 1 { return String(format: "%.3g", v) }
        return String(format: "%.2g", v)
    }

    static func fmt(_ v: Double) -> String { String(format: "%.1f", v) }
    static func q(_ v: Double) -> String { "\"\(fmt(v))\"" }

    static func esc(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(ch)
            }
        }
        return out
    }
}

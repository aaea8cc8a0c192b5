import Testing
@testable import PetrelGateway

/// docs/metrics.md is generated from the metric table (`petrel metrics-doc > docs/metrics.md`);
/// this fails when someone changes one without the other.
@Test func metricsDocMatchesTheTable() throws {
    let path = String(#filePath.dropLast("Tests/PetrelGatewayTests/MetricsDocTests.swift".count)) + "docs/metrics.md"
    let committed = try String(contentsOfFile: path, encoding: .utf8)
    #expect(committed == MetricsDoc.markdown(), "docs/metrics.md is stale: run `petrel metrics-doc > docs/metrics.md`")
}

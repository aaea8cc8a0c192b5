import ArgumentParser
import PetrelGateway

/// `petrel metrics-doc`: prints docs/metrics.md, generated from the metric table (STYLE habit 10).
struct MetricsDoc: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics-doc", abstract: "Print docs/metrics.md from the metric table.", shouldDisplay: false)

    func run() throws {
        print(PetrelGateway.MetricsDoc.markdown(), terminator: "")
    }
}

import ArgumentParser
import PetrelConfig
import PetrelGateway

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a config file; print every problem with its key path (exit 1 if any)."
    )

    @Argument(help: "The YAML config file.") var file: String

    func run() throws {
        switch ConfigLoader.load(path: file) {
        case .failure(let errors):
            for problem in errors.problems { print(problem.description) }
            throw ExitCode(1)
        case .success(let config):
            // Semantic checks the gateway makes at start (integrations it can run, expressions).
            do {
                _ = try GatewaySettings(config)
            } catch where error.isUnavailableFeature {
                print("warning: \(error.description)")
            } catch {
                print(error.description)
                throw ExitCode(1)
            }
            // The files behind `tls` are loaded as `serve` would, so a missing certificate is
            // caught here rather than at start.
            let tls = Gateway.tlsFileCheck(config)
            for warning in tls.warnings { print("warning: \(warning)") }
            for problem in tls.problems { print(problem) }
            if !tls.problems.isEmpty { throw ExitCode(1) }
            print("\(file): ok")
        }
    }
}

import ArgumentParser
import Glibc

/// `petrel serve | check-config | version | admin`. A bad flag or config is one clear line on stderr and
/// exit code 2, never a stack trace.
struct PetrelCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "petrel",
        abstract: "A WebSocket-first real-time API gateway, wire-compatible with Amazon API Gateway.",
        subcommands: [Serve.self, CheckConfig.self, Version.self, Admin.self, MetricsDoc.self]
    )

    static func main() {
        signal(SIGPIPE, SIG_IGN)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let exit as ExitCode {
            Glibc.exit(exit.rawValue)
        } catch let failure as CLIFailure {
            printError(failure.message)
            Glibc.exit(failure.code)
        } catch {
            if exitCode(for: error) == .success {
                print(fullMessage(for: error))
                Glibc.exit(0)
            }
            let message = message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
            printError(message)
            Glibc.exit(2)
        }
    }
}

struct CLIFailure: Error {
    let message: String
    var code: Int32 = 2
}

func printError(_ message: String) {
    let line = "petrel: \(message)\n"
    _ = line.withCString { Glibc.write(2, $0, strlen($0)) }
}

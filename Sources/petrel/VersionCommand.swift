import ArgumentParser

let petrelVersion = "0.1.0"

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the version.")

    func run() throws {
        print("petrel \(petrelVersion)")
    }
}

import Foundation
@testable import PetrelConfig

/// Loads `yaml` with the given environment, expecting success.
func loadConfig(_ yaml: String, environment: [String: String] = [:], baseDirectory: String = "/etc/petrel") throws -> PetrelConfig {
    try ConfigLoader.load(yaml: yaml, environment: environment, baseDirectory: baseDirectory).get()
}

/// Loads `yaml`, expecting failure, and returns the problems (empty if it loaded).
func configProblems(_ yaml: String, environment: [String: String] = [:], baseDirectory: String = "/etc/petrel") -> [ConfigProblem] {
    switch ConfigLoader.load(yaml: yaml, environment: environment, baseDirectory: baseDirectory) {
    case .success: return []
    case .failure(let errors): return errors.problems
    }
}

/// The key paths of the problems, for checks that do not care about the wording.
func problemPaths(_ yaml: String, environment: [String: String] = [:]) -> [String] {
    configProblems(yaml, environment: environment).map(\.keyPath)
}

/// A fresh directory removed when `body` returns.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("petrel-config-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    return try body(directory)
}

/// The repository root, found from this file's real location.
let repositoryRoot = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

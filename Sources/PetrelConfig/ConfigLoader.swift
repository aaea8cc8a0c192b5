import Foundation
import Yams

/// Loads and validates configuration files (DESIGN §3).
public enum ConfigLoader {
    /// Parses and validates; collects every problem, not just the first.
    /// Relative paths in the file (secret files, TLS files, `jwks_file`, the access log) are taken
    /// from `baseDirectory`.
    public static func load(yaml: String, environment: [String: String], baseDirectory: String) -> Result<PetrelConfig, ConfigErrors> {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            return .failure(ConfigErrors(problems: [syntaxProblem(error)]))
        }
        let reader = ConfigReader(environment: environment, baseDirectory: baseDirectory)
        // An empty file is a valid configuration: every default applies.
        let config = root.map(reader.decodeConfig) ?? PetrelConfig()
        guard reader.problems.isEmpty else { return .failure(ConfigErrors(problems: reader.problems)) }
        return .success(config)
    }

    /// Reads `path` and loads it, with relative paths taken from the file's directory.
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> Result<PetrelConfig, ConfigErrors> {
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(ConfigErrors(problems: [ConfigProblem(keyPath: "", message: "cannot read config file \(path)")]))
        }
        guard let yaml = String(data: data, encoding: .utf8) else {
            return .failure(ConfigErrors(problems: [ConfigProblem(keyPath: "", message: "config file \(path) is not UTF-8 text")]))
        }
        let directory = (path as NSString).deletingLastPathComponent
        return load(yaml: yaml, environment: environment, baseDirectory: directory.isEmpty ? "." : directory)
    }

    private static func syntaxProblem(_ error: any Error) -> ConfigProblem {
        let message: String
        switch error as? YamlError {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            message = "YAML syntax error at line \(mark.line), column \(mark.column): \(problem)"
        case .duplicatedKeysInMapping(let duplicates, let context):
            message = "YAML mapping at line \(context.mark.line), column \(context.mark.column) repeats key \(duplicates.joined(separator: ", "))"
        case .reader(let problem, _, _, _):
            message = "YAML cannot be read: \(problem)"
        default:
            message = "YAML error: \(error)"
        }
        return ConfigProblem(keyPath: "", message: message)
    }
}

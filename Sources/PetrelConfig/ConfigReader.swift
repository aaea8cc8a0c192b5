import Foundation
import Yams

/// Reads typed values out of the YAML tree, collecting a problem (with its key path) for every
/// value it cannot use instead of stopping at the first, so `petrel check-config` lists them all.
///
/// Scalars are typed by their text after `${env:NAME}` substitution, not by YAML's tag
/// resolution, so `max_connections: ${env:MAX_CONN}` works and `format: off` stays a string.
/// A plain `null`, `~` or empty value counts as omitted.
final class ConfigReader {
    private(set) var problems: [ConfigProblem] = []
    /// Names written under `integrations` / `authorizers`, even those that failed to decode, so
    /// that a route naming a broken entry is not also reported as naming a missing one.
    var declaredIntegrations: Set<String> = []
    var declaredAuthorizers: Set<String> = []
    let environment: [String: String]
    /// Relative file paths in the config are taken from here (the config file's directory).
    let baseDirectory: String

    init(environment: [String: String], baseDirectory: String) {
        self.environment = environment
        self.baseDirectory = baseDirectory
    }

    func report(_ keyPath: String, _ message: String) {
        problems.append(ConfigProblem(keyPath: keyPath, message: message))
    }

    static func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    // MARK: Containers

    /// `nil` (with a problem) when `node` is not a mapping; an omitted (null) node is an empty mapping.
    func mapping(_ node: Node, at keyPath: String) -> MappingFields? {
        if Self.isNull(node) { return MappingFields(keyPath: keyPath, entries: [], reader: self) }
        guard case .mapping(let mapping) = node else {
            report(keyPath, "expected a mapping")
            return nil
        }
        var entries: [(key: String, value: Node)] = []
        for (keyNode, value) in mapping {
            guard case .scalar(let key) = keyNode else {
                report(keyPath, "mapping keys must be strings")
                continue
            }
            entries.append((key.string, value))
        }
        return MappingFields(keyPath: keyPath, entries: entries, reader: self)
    }

    /// The elements with their key paths; an omitted (null) node is an empty list.
    func sequence(_ node: Node, at keyPath: String) -> [(node: Node, keyPath: String)]? {
        if Self.isNull(node) { return [] }
        guard case .sequence(let sequence) = node else {
            report(keyPath, "expected a list")
            return nil
        }
        return sequence.enumerated().map { ($0.element, KeyPath.element(keyPath, $0.offset)) }
    }

    // MARK: Scalars

    func string(_ node: Node, at keyPath: String) -> String? {
        guard case .scalar(let scalar) = node else {
            report(keyPath, "expected a string")
            return nil
        }
        switch EnvironmentSubstitution.substitute(in: scalar.string, environment: environment) {
        case .success(let text):
            return text
        case .failure(.missing(let name)):
            report(keyPath, "environment variable \(name) is not set")
        case .failure(.malformed):
            report(keyPath, "malformed ${env:NAME} reference")
        }
        return nil
    }

    func int(_ node: Node, at keyPath: String) -> Int? {
        guard let text = string(node, at: keyPath) else { return nil }
        guard let value = Int(text) else {
            report(keyPath, "expected an integer")
            return nil
        }
        return value
    }

    func positiveInt(_ node: Node, at keyPath: String) -> Int? {
        guard let value = int(node, at: keyPath) else { return nil }
        guard value > 0 else {
            report(keyPath, "must be greater than 0")
            return nil
        }
        return value
    }

    func double(_ node: Node, at keyPath: String) -> Double? {
        guard let text = string(node, at: keyPath) else { return nil }
        guard let value = Double(text), value.isFinite else {
            report(keyPath, "expected a number")
            return nil
        }
        return value
    }

    func bool(_ node: Node, at keyPath: String) -> Bool? {
        guard let text = string(node, at: keyPath) else { return nil }
        switch text {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default:
            report(keyPath, "expected true or false")
            return nil
        }
    }

    func duration(_ node: Node, at keyPath: String) -> Milliseconds? {
        guard let text = string(node, at: keyPath) else { return nil }
        guard let value = parseDuration(text) else {
            report(keyPath, "expected a duration like 500ms, 30s, 10m, 2h")
            return nil
        }
        return value
    }

    func positiveDuration(_ node: Node, at keyPath: String) -> Milliseconds? {
        guard let value = duration(node, at: keyPath) else { return nil }
        guard value > 0 else {
            report(keyPath, "must be greater than 0")
            return nil
        }
        return value
    }

    func positiveSize(_ node: Node, at keyPath: String) -> Int? {
        guard let text = string(node, at: keyPath) else { return nil }
        guard let value = parseSize(text) else {
            report(keyPath, "expected a size in bytes, like 131072 or 128KiB")
            return nil
        }
        guard value > 0 else {
            report(keyPath, "must be greater than 0")
            return nil
        }
        return value
    }

    func choice<Choice: RawRepresentable & CaseIterable>(_ node: Node, at keyPath: String) -> Choice?
    where Choice.RawValue == String {
        guard let text = string(node, at: keyPath) else { return nil }
        guard let value = Choice(rawValue: text) else {
            let allowed = Choice.allCases.map(\.rawValue).joined(separator: ", ")
            report(keyPath, "expected one of \(allowed)")
            return nil
        }
        return value
    }

    func stringList(_ node: Node, at keyPath: String) -> [String]? {
        guard let elements = sequence(node, at: keyPath) else { return nil }
        return elements.compactMap { string($0.node, at: $0.keyPath) }
    }

    func stringMap(_ node: Node, at keyPath: String) -> [String: String]? {
        guard let fields = mapping(node, at: keyPath) else { return nil }
        var result: [String: String] = [:]
        for key in fields.keys {
            if let value = fields.string(key) { result[key] = value }
        }
        fields.finish()
        return result
    }

    // MARK: Files

    /// A path as written, made absolute against the config file's directory.
    func resolvedPath(_ path: String) -> String {
        guard !path.hasPrefix("/"), !baseDirectory.isEmpty else { return path }
        return (baseDirectory as NSString).appendingPathComponent(path)
    }

    /// The contents of a secret file with its trailing line break removed (files written by
    /// `echo`, Kubernetes Secrets and systemd credentials often end with one).
    func secretFile(_ path: String, at keyPath: String) -> String? {
        let resolved = resolvedPath(path)
        guard let data = FileManager.default.contents(atPath: resolved) else {
            report(keyPath, "cannot read secret file \(resolved)")
            return nil
        }
        guard var text = String(data: data, encoding: .utf8) else {
            report(keyPath, "secret file \(resolved) is not UTF-8 text")
            return nil
        }
        // By scalar: "\r\n" is one Character, so `hasSuffix("\n")` would not see it.
        while let last = text.unicodeScalars.last, last == "\n" || last == "\r" { text.unicodeScalars.removeLast() }
        guard !text.isEmpty else {
            report(keyPath, "secret file \(resolved) is empty")
            return nil
        }
        return text
    }
}

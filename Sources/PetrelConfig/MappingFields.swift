import Yams

/// The keys of one YAML mapping, as a decoder reads them. Every key read is marked as known;
/// ``finish()`` reports the rest as unknown keys, so a typo such as `idel_timeout` is an error
/// rather than a silently ignored setting (DESIGN §3).
final class MappingFields {
    let keyPath: String
    private let entries: [(key: String, value: Node)]
    private var known: Set<String> = []
    private unowned let reader: ConfigReader

    init(keyPath: String, entries: [(key: String, value: Node)], reader: ConfigReader) {
        self.keyPath = keyPath
        self.entries = entries
        self.reader = reader
    }

    /// All keys present, in document order.
    var keys: [String] { entries.map(\.key) }

    func path(_ key: String) -> String { KeyPath.member(keyPath, key) }

    /// The value of `key`, or `nil` when it is absent or null. Marks the key as known.
    subscript(_ key: String) -> Node? {
        known.insert(key)
        guard let value = entries.last(where: { $0.key == key })?.value, !ConfigReader.isNull(value) else { return nil }
        return value
    }

    func has(_ key: String) -> Bool { self[key] != nil }

    /// Like the subscript, but reports a missing key.
    func required(_ key: String) -> Node? {
        guard let value = self[key] else {
            reader.report(path(key), "required key is missing")
            return nil
        }
        return value
    }

    /// Reports `key` as not allowed here (when present), e.g. a `url` on a mock integration.
    func forbid(_ key: String, because reason: String) {
        if self[key] != nil { reader.report(path(key), reason) }
    }

    func finish() {
        for (key, _) in entries where !known.contains(key) {
            reader.report(path(key), "unknown key")
        }
    }

    // Shorthands for the reader's typed accessors.
    func string(_ key: String) -> String? { self[key].flatMap { reader.string($0, at: path(key)) } }
    func bool(_ key: String) -> Bool? { self[key].flatMap { reader.bool($0, at: path(key)) } }
    func int(_ key: String) -> Int? { self[key].flatMap { reader.int($0, at: path(key)) } }
    func positiveInt(_ key: String) -> Int? { self[key].flatMap { reader.positiveInt($0, at: path(key)) } }
    func positiveSize(_ key: String) -> Int? { self[key].flatMap { reader.positiveSize($0, at: path(key)) } }
    func duration(_ key: String) -> Milliseconds? { self[key].flatMap { reader.duration($0, at: path(key)) } }
    func positiveDuration(_ key: String) -> Milliseconds? { self[key].flatMap { reader.positiveDuration($0, at: path(key)) } }
    func stringList(_ key: String) -> [String]? { self[key].flatMap { reader.stringList($0, at: path(key)) } }
    func stringMap(_ key: String) -> [String: String]? { self[key].flatMap { reader.stringMap($0, at: path(key)) } }
    func mapping(_ key: String) -> MappingFields? { self[key].flatMap { reader.mapping($0, at: path(key)) } }
    func choice<Choice: RawRepresentable & CaseIterable>(_ key: String) -> Choice? where Choice.RawValue == String {
        self[key].flatMap { reader.choice($0, at: path(key)) }
    }

    /// A secret written inline (`${env:NAME}` works there) or as `KEY_file: PATH`.
    func secret(_ key: String, required: Bool) -> String? {
        let fileKey = key + "_file"
        let inline = string(key)
        let file = string(fileKey)
        switch (inline, file) {
        case (.some, .some):
            reader.report(path(fileKey), "give either \(key) or \(fileKey), not both")
            return nil
        case (.some(let value), nil):
            return value
        case (nil, .some(let filePath)):
            return reader.secretFile(filePath, at: path(fileKey))
        case (nil, nil):
            // A key that is present but failed to read has already been reported.
            if required, !has(key), !has(fileKey) { reader.report(path(key), "required key is missing (or \(fileKey))") }
            return nil
        }
    }
}

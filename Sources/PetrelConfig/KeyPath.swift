/// Builds the key paths that problems are reported at: `a.b.c`, `list[2]`, and `map["GET /x"]`
/// for keys that would be ambiguous after a dot.
enum KeyPath {
    static func member(_ base: String, _ key: String) -> String {
        let plain = !key.isEmpty && key.unicodeScalars.allSatisfy { scalar in
            scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "_$-".unicodeScalars.contains(scalar)
        }
        guard plain else { return base + "[\"" + key + "\"]" }
        return base.isEmpty ? key : base + "." + key
    }

    static func element(_ base: String, _ index: Int) -> String {
        "\(base)[\(index)]"
    }
}

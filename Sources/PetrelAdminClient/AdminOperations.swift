import PetrelCore

/// The admin API's calls by name (DESIGN §6), for `petrel admin`. Ids and group names are
/// percent-encoded as path segments (`=` as `%3D`), as boto3 sends them.
extension AdminClient {
    public func post(to id: String, _ data: [UInt8]) throws(AdminClientError) {
        _ = try send("POST", "/@connections/" + Self.segment(id), body: data)
    }

    /// The connection's JSON (`connectedAt`, `identity`, `lastActiveAt`).
    public func get(_ id: String) throws(AdminClientError) -> String {
        String(decoding: try send("GET", "/@connections/" + Self.segment(id)).body, as: UTF8.self)
    }

    public func delete(_ id: String, code: Int? = nil, reason: String? = nil) throws(AdminClientError) {
        var query: [String] = []
        if let code { query.append("code=\(code)") }
        if let reason { query.append("reason=" + Self.segment(reason)) }
        _ = try send("DELETE", "/@connections/" + Self.segment(id), query: query.isEmpty ? nil : query.joined(separator: "&"))
    }

    /// Member ids across the cluster.
    public func members(of group: String) throws(AdminClientError) -> [String] {
        let body = try send("GET", "/@groups/" + Self.segment(group)).body
        guard case .array(let ids)? = JSONValue.parse(body)?["connectionIds"] else { return [] }
        return ids.compactMap(\.stringValue)
    }

    public func join(_ id: String, group: String) throws(AdminClientError) {
        _ = try send("PUT", "/@connections/" + Self.segment(id) + "/groups/" + Self.segment(group))
    }

    public func leave(_ id: String, group: String) throws(AdminClientError) {
        _ = try send("DELETE", "/@connections/" + Self.segment(id) + "/groups/" + Self.segment(group))
    }

    public func post(toGroup group: String, _ data: [UInt8]) throws(AdminClientError) {
        _ = try send("POST", "/@groups/" + Self.segment(group), body: data)
    }

    /// The dashboard's snapshot JSON (`GET /dashboard/snapshot`).
    public func snapshot() throws(AdminClientError) -> [UInt8] {
        try send("GET", "/dashboard/snapshot").body
    }

    /// RFC 3986 unreserved characters stay, every other byte becomes %XX.
    static func segment(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in text.utf8 {
            let isAlphanumeric = ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
            if isAlphanumeric || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x7E {
                out.append(byte)
            } else {
                out += [0x25, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

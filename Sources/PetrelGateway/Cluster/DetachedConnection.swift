import PetrelCore

/// A connection of a node that died, as the registry remembers it: enough for the `$disconnect`
/// event a survivor sends on its behalf.
final class DetachedConnection: ConnectionContext {
    let record: ConnectionRecord

    init(_ record: ConnectionRecord) {
        self.record = record
    }

    var connectionId: ConnectionID { record.id }
    var connectedAtMs: Int64 { record.connectedAtMs }
    var sourceIp: String { record.sourceIp }
    var userAgent: String { record.userAgent }
    var domainName: String { record.domainName }
    var authorizerJSON: String? { nil }
}

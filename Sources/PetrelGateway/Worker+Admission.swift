import PetrelCodecs
import PetrelLoop

/// The accept half of `ClientAddressPolicy`: IP rules on the TCP peer, and arming the PROXY
/// protocol decoder before the first read.
extension Worker {
    func listenerPolicy(admin: Bool) -> ClientAddressPolicy {
        admin ? settings.adminClientAddresses : settings.publicClientAddresses
    }

    /// False when the peer is refused; the stream is then already closed.
    func admitAtAccept(_ stream: TCPStream, admin: Bool) -> Bool {
        let policy = listenerPolicy(admin: admin)
        guard policy.checksAtAccept else { return true }
        let peer = stream.peerAddress()
        if policy.proxyProtocol != nil {
            // Only balancers may speak for clients; the rules then apply to the header's address.
            if policy.trustedProxies.isEmpty || policy.isTrusted(peer) { return true }
            refuse(stream, peer: peer, reason: "proxy_protocol peer not in trusted_proxies", admin: admin)
            return false
        }
        // A trusted proxy's requests name their client in X-Forwarded-For: checked per request.
        if policy.isTrusted(peer) || policy.permits(peer) { return true }
        refuse(stream, peer: peer, reason: "address denied", admin: admin)
        return false
    }

    private func refuse(_ stream: TCPStream, peer: IPAddress?, reason: String, admin: Bool) {
        Log.info("connection refused", ["reason": .string(reason), "sourceIp": .string(peer?.description ?? ""),
                                        "listener": .string(admin ? "admin" : "public")])
        stream.close()
    }

    /// Before the first read: the transport address for `X-Forwarded-For`, and the PROXY decoder.
    func prepareClientAddress(_ connection: Connection) {
        let policy = listenerPolicy(admin: connection.isAdmin)
        guard let session = connection.http else { return }
        session.transportPeer = connection.peer
        if let version = policy.proxyProtocol {
            session.proxyDecoder = ProxyProtocolDecoder(version: version)
            connection.stream.expectsPreamble = true
        }
    }
}

extension ConfigLoader {
    /// What `petrel serve` runs without `--config` (DESIGN §2): public listener 0.0.0.0:8080,
    /// admin 127.0.0.1:9090 (loopback, so no auth needed), in-memory registry, a WebSocket at `/`
    /// whose `$default` route echoes, and `GET /health` answering 200.
    public static let embeddedDefaultYAML = """
        # Petrel's built-in configuration, used when `petrel serve` is given no --config.
        listeners:
          public: {address: 0.0.0.0:8080}
          admin: {address: 127.0.0.1:9090}
        websocket:
          path: /
          route_selection: $request.body.action
          routes:
            $default: {integration: echo, respond: true}
        http:
          routes:
            "GET /health": {integration: health}
        integrations:
          echo: {type: mock, mode: echo}
          health: {type: mock, status: 200, body: '{"status":"ok"}', headers: {content-type: application/json}}

        """

    public static func embeddedDefault() -> PetrelConfig {
        switch load(yaml: embeddedDefaultYAML, environment: [:], baseDirectory: "/") {
        case .success(let config):
            return config
        case .failure(let errors):
            // A test loads it too, so this cannot ship broken.
            preconditionFailure("embedded default configuration is invalid:\n\(errors)")
        }
    }
}

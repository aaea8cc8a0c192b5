import Testing
@testable import PetrelConfig

/// Each kind of problem, reported at its exact key path.
@Suite struct ProblemReportingTests {
    @Test func unknownKeysEverywhere() {
        #expect(configProblems("websocket: {limits: {idel_timeout: 5m}}") == [
            ConfigProblem(keyPath: "websocket.limits.idel_timeout", message: "unknown key"),
        ])
        #expect(problemPaths("colour: blue") == ["colour"])
        #expect(problemPaths("listeners: {public: {adress: '0.0.0.0:1'}}") == ["listeners.public.adress"])
        #expect(problemPaths("integrations: {e: {type: mock, modes: echo}}") == ["integrations.e.modes"])
        #expect(problemPaths("http: {routes: {'GET /x': {integration: e, auth: j}}}\nintegrations: {e: {type: mock}}")
            == [#"http.routes["GET /x"].auth"#])
    }

    @Test func problemDescriptionIsKeyPathColonMessage() {
        let problem = configProblems("websocket: {limits: {idle_timeout: soon}}").first
        #expect(problem?.description == "websocket.limits.idle_timeout: expected a duration like 500ms, 30s, 10m, 2h")
    }

    @Test func wrongTypes() {
        #expect(configProblems("websocket: {path: [a]}") == [ConfigProblem(keyPath: "websocket.path", message: "expected a string")])
        #expect(configProblems("websocket: {limits: {max_pending_messages: many}}")
            == [ConfigProblem(keyPath: "websocket.limits.max_pending_messages", message: "expected an integer")])
        #expect(configProblems("websocket: {routes: {x: {integration: e, respond: yes}}}\nintegrations: {e: {type: mock}}")
            == [ConfigProblem(keyPath: "websocket.routes.x.respond", message: "expected true or false")])
        #expect(configProblems("websocket: []") == [ConfigProblem(keyPath: "websocket", message: "expected a mapping")])
        #expect(configProblems("websocket: {allowed_origins: x}") == [ConfigProblem(keyPath: "websocket.allowed_origins", message: "expected a list")])
        #expect(problemPaths("throttling: {rate: fast, burst: 1}") == ["throttling.rate"])
        #expect(problemPaths("- a\n- b") == [""])
    }

    @Test func malformedDurationsAndSizes() {
        #expect(configProblems("websocket: {limits: {max_message_bytes: 1MB}}")
            == [ConfigProblem(keyPath: "websocket.limits.max_message_bytes", message: "expected a size in bytes, like 131072 or 128KiB")])
        #expect(problemPaths("integrations: {b: {type: http, url: 'http://x', timeout: 29}}") == ["integrations.b.timeout"])
        #expect(problemPaths("authorizers: {h: {type: http, url: 'http://x', cache_ttl: 5 minutes}}") == ["authorizers.h.cache_ttl"])
    }

    @Test func limitsMustBePositive() {
        #expect(configProblems("websocket: {limits: {idle_timeout: 0s}}")
            == [ConfigProblem(keyPath: "websocket.limits.idle_timeout", message: "must be greater than 0")])
        #expect(problemPaths("websocket: {limits: {max_frame_bytes: 0, max_pending_messages: -1, max_connections: 0}}")
            == ["websocket.limits.max_frame_bytes", "websocket.limits.max_pending_messages", "websocket.limits.max_connections"])
        #expect(problemPaths("websocket: {limits: {connect_rate: {rate: 0, burst: 0}}}")
            == ["websocket.limits.connect_rate.burst", "websocket.limits.connect_rate.rate"])
        #expect(problemPaths("throttling: {rate: 1}") == ["throttling.burst"])
    }

    @Test func listenerAddresses() {
        #expect(problemPaths("listeners: {public: {address: '0.0.0.0:65536'}}") == ["listeners.public.address"])
        #expect(problemPaths("listeners: {public: {address: 'nowhere'}}") == ["listeners.public.address"])
        #expect(problemPaths("listeners: {public: {address: '[::]:0'}}").isEmpty)
    }

    @Test func adminOffLoopbackNeedsAuth() {
        #expect(configProblems("listeners: {admin: {address: '0.0.0.0:9090'}}") == [
            ConfigProblem(keyPath: "listeners.admin.auth", message: "required when the admin listener's address is not loopback (0.0.0.0)"),
        ])
        #expect(problemPaths("listeners: {admin: {address: '0.0.0.0:9090', auth: {bearer_tokens: [t]}}}").isEmpty)
        #expect(problemPaths("listeners: {admin: {address: '127.0.0.2:9090'}}").isEmpty)
        #expect(problemPaths("listeners: {admin: {address: '[::1]:9090'}}").isEmpty)
        #expect(problemPaths("listeners: {admin: {address: 'localhost:9090'}}").isEmpty)
    }

    @Test func authNeedsACredentialAndBelongsToTheAdminListener() {
        #expect(problemPaths("listeners: {admin: {auth: {public_metrics: true}}}") == ["listeners.admin.auth"])
        #expect(problemPaths("listeners: {admin: {auth: {sigv4: [], bearer_tokens: []}}}") == ["listeners.admin.auth"])
        #expect(problemPaths("listeners: {admin: {auth: {bearer_tokens: [{file: /nonexistent}]}}}") == ["listeners.admin.auth.bearer_tokens[0].file"])
        #expect(problemPaths("listeners: {public: {auth: {bearer_tokens: [t]}}}") == ["listeners.public.auth"])
    }

    @Test func listenerOptions() throws {
        let config = try loadConfig("""
            listeners:
              public: {proxy_protocol: v2, trusted_proxies: [10.0.0.0/8, "::1"], allow_ips: [0.0.0.0/0], deny_ips: [192.0.2.7], max_connections_per_ip: 5}
            """)
        #expect(config.listeners.public.proxyProtocol == .v2)
        #expect(config.listeners.public.trustedProxies == ["10.0.0.0/8", "::1"])
        #expect(config.listeners.public.maxConnectionsPerIP == 5)
        #expect(problemPaths("listeners: {public: {proxy_protocol: v3}}") == ["listeners.public.proxy_protocol"])
        // The per-address cap counts WebSocket upgrades; the admin listener serves none.
        #expect(problemPaths("listeners: {admin: {max_connections_per_ip: 5}}") == ["listeners.admin.max_connections_per_ip"])
        #expect(problemPaths("listeners: {public: {trusted_proxies: [10.0.0.0/33, 'x']}}")
            == ["listeners.public.trusted_proxies[0]", "listeners.public.trusted_proxies[1]"])
    }

    @Test func routesMustNameExistingIntegrationsAndAuthorizers() {
        #expect(configProblems("websocket: {routes: {$connect: {integration: backend, authorizer: jwt}}}") == [
            ConfigProblem(keyPath: "websocket.routes.$connect.integration", message: "no integration named \"backend\" in integrations"),
            ConfigProblem(keyPath: "websocket.routes.$connect.authorizer", message: "no authorizer named \"jwt\" in authorizers"),
        ])
        #expect(problemPaths("http: {routes: {'GET /health': {integration: ok}}}") == [#"http.routes["GET /health"].integration"#])
    }

    @Test func brokenIntegrationIsReportedOnceNotAlsoAsMissing() {
        #expect(problemPaths("websocket: {routes: {x: {integration: b}}}\nintegrations: {b: {type: http}}") == ["integrations.b.url"])
    }

    @Test func webSocketRouteKeys() {
        let yaml = "websocket: {routes: {$connect: {integration: e}, $disconnect: {integration: e}, $default: {integration: e}, chat: {integration: e}, $other: {integration: e}}}\nintegrations: {e: {type: mock}}"
        #expect(problemPaths(yaml) == ["websocket.routes.$other"])
    }

    @Test func authorizerOnlyOnConnect() {
        let yaml = "websocket: {routes: {chat: {integration: e, authorizer: j}}}\nintegrations: {e: {type: mock}}\nauthorizers: {j: {type: jwt, jwks_file: k}}"
        #expect(problemPaths(yaml) == ["websocket.routes.chat.authorizer"])
    }

    @Test(arguments: ["GET /", "ANY /api/{proxy+}", "POST /items/{id}/tags", "$default", "OPTIONS /x", "HEAD /a/b"])
    func validHTTPRouteKeys(_ key: String) {
        #expect(problemPaths("http: {routes: {'\(key)': {integration: e}}}\nintegrations: {e: {type: mock}}").isEmpty)
    }

    @Test(arguments: ["get /", "GET", "GET x", "FETCH /x", "GET  /x", "/x", "GET /{proxy+}/x", "GET /a{b}", "GET /{}", "$other"])
    func invalidHTTPRouteKeys(_ key: String) {
        #expect(problemPaths("http: {routes: {'\(key)': {integration: e}}}\nintegrations: {e: {type: mock}}") == [KeyPath.member("http.routes", key)])
    }

    @Test func integrationRules() {
        #expect(configProblems("integrations: {x: {url: 'http://a'}}") == [ConfigProblem(keyPath: "integrations.x.type", message: "required key is missing")])
        #expect(configProblems("integrations: {x: {type: lambda}}") == [ConfigProblem(keyPath: "integrations.x.type", message: "expected one of mock, http, http_proxy")])
        #expect(problemPaths("integrations: {x: {type: http_proxy}}") == ["integrations.x.url"])
        #expect(problemPaths("integrations: {x: {type: http, url: 'ftp://a'}}") == ["integrations.x.url"])
        #expect(problemPaths("integrations: {x: {type: mock, mode: reverse}}") == ["integrations.x.mode"])
        #expect(problemPaths("integrations: {x: {type: mock, url: 'http://a'}}") == ["integrations.x.url"])
        #expect(problemPaths("integrations: {x: {type: http, url: 'http://a', body: hi}}") == ["integrations.x.body"])
        #expect(problemPaths("integrations: {x: {type: mock, status: 700}}") == ["integrations.x.status"])
        #expect(problemPaths("integrations: {x: {type: mock, mode: echo, body: hi}}") == ["integrations.x.body"])
    }

    @Test func authorizerRules() {
        #expect(problemPaths("authorizers: {j: {type: jwt}}") == ["authorizers.j"])
        #expect(problemPaths("authorizers: {j: {type: jwt, jwks_file: k, url: 'http://a'}}") == ["authorizers.j.url"])
        #expect(problemPaths("authorizers: {h: {type: http}}") == ["authorizers.h.url"])
        #expect(problemPaths("authorizers: {h: {type: http, url: 'http://a', issuer: i}}") == ["authorizers.h.issuer"])
        #expect(problemPaths("authorizers: {h: {type: http, url: 'http://a', identity_source: []}}") == ["authorizers.h.identity_source"])
        #expect(problemPaths("authorizers: {h: {type: saml}}") == ["authorizers.h.type"])
    }

    @Test func otherSectionRules() {
        #expect(problemPaths("websocket: {path: ws}") == ["websocket.path"])
        #expect(problemPaths("websocket: {route_selection: ''}") == ["websocket.route_selection"])
        #expect(problemPaths("stage: a/b") == ["stage"])
        #expect(problemPaths("registry: {redis: 'localhost:6379'}") == ["registry.redis"])
        #expect(problemPaths("node: {threads: 0}") == ["node.threads"])
        #expect(problemPaths("node: {threads: lots}") == ["node.threads"])
        #expect(problemPaths("access_log: {format: json}") == ["access_log.path"])
        #expect(problemPaths("access_log: {path: stdout, format: clf}") == ["access_log.format"])
        #expect(problemPaths("http: {cors: {allow_methods: [GET, FETCH], max_age: -1}}") == ["http.cors.allow_methods[1]", "http.cors.max_age"])
    }

    @Test func threadsAutoOrCount() throws {
        #expect(try loadConfig("node: {threads: auto}").node.threads == nil)
        #expect(try loadConfig("node: {threads: 4}").node.threads == 4)
    }

    @Test func yamlSyntaxErrorIsOneProblemWithLineAndColumn() {
        let problems = configProblems("websocket:\n  path: /\n  limits: {idle_timeout: 5m\n")
        #expect(problems.count == 1)
        #expect(problems.first?.keyPath == "")
        #expect(problems.first?.message.hasPrefix("YAML syntax error at line ") == true)
        #expect(problems.first?.message.contains("column") == true)
    }

    @Test func duplicateKeysAreAProblem() {
        let problems = configProblems("stage: a\nstage: b\n")
        #expect(problems.count == 1)
        #expect(problems.first?.message.contains("repeats key stage") == true)
    }

    @Test func unreadableFileIsOneProblem() {
        let result = ConfigLoader.load(path: "/nonexistent/petrel.yaml", environment: [:])
        #expect(result == .failure(ConfigErrors(problems: [ConfigProblem(keyPath: "", message: "cannot read config file /nonexistent/petrel.yaml")])))
    }

    @Test func everyProblemIsReportedAtOnce() {
        let problems = configProblems("""
            listeners:
              public: {address: 'nope'}
              admin: {address: '0.0.0.0:9090'}
            websocket:
              path: chat
              limits: {idle_timeout: 10, idel_timeout: 5m, max_message_bytes: big}
              routes:
                $connect: {integration: missing}
                $bogus: {integration: echo}
            integrations:
              echo: {type: mock, mode: echo}
              b: {type: http}
            colour: blue
            """)
        #expect(problems.map(\.keyPath) == [
            "listeners.public.address",
            "listeners.admin.auth",
            "websocket.path",
            "websocket.limits.max_message_bytes",
            "websocket.limits.idle_timeout",
            "websocket.limits.idel_timeout",
            "websocket.routes.$bogus",
            "integrations.b.url",
            "colour",
            "websocket.routes.$connect.integration",
        ])
    }
}

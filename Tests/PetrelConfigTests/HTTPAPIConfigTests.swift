import Foundation
import Testing
@testable import PetrelConfig

/// Keys of HTTP API routes (DESIGN §8): validation, API keys and plans, sigv4 authorizers, CORS.
@Suite struct HTTPAPIConfigTests {
    static let base = """
        integrations: {ok: {type: mock, status: 200}, api: {type: http_proxy, url: "http://127.0.0.1:1/{proxy}"}}
        authorizers:
          iam: {type: sigv4, keys: [{access_key_id: AK1, secret_access_key: s1}, {access_key_id: AK2, secret_access_key: s2}]}
          jwt: {type: jwt, secret: k}
        api_keys:
          plans:
            basic: {throttle: {rate: 5, burst: 10}, quota: {limit: 1000, period: day}}
            free: {quota: {limit: 3, period: month}}
          keys:
            - {id: partner-a, value: key-a-123, plan: basic}
            - {value: key-b-456, plan: free}

        """

    @Test func routeKeysLoad() throws {
        let config = try loadConfig(Self.base + """
            http:
              routes:
                "POST /orders":
                  integration: ok
                  authorizer: iam
                  access_keys: [AK1]
                  api_key_required: true
                  validation:
                    query: [limit]
                    headers: [x-tenant]
                    body: {type: object, required: [id], properties: {id: {type: string, maxLength: 8}, n: {enum: ["1", 2, true, null]}}}
              cors: {allow_origins: ["https://app.example"], allow_credentials: true, expose_headers: [x-id]}
            """)
        let route = try #require(config.http.routes["POST /orders"])
        #expect(route.accessKeys == ["AK1"])
        #expect(route.apiKeyRequired)
        #expect(route.validation?.query == ["limit"])
        #expect(route.validation?.headers == ["x-tenant"])
        #expect(route.validation?.bodySchemaJSON ==
                #"{"type":"object","required":["id"],"properties":{"id":{"type":"string","maxLength":8},"n":{"enum":["1",2,true,null]}}}"#)
        #expect(config.http.cors?.allowCredentials == true)
        #expect(config.http.cors?.exposeHeaders == ["x-id"])
        #expect(config.authorizers["iam"]?.type == .sigv4)
        #expect(config.authorizers["iam"]?.keys.map(\.accessKeyId) == ["AK1", "AK2"])
        #expect(config.apiKeys?.keys == [APIKeyConfig(id: "partner-a", value: "key-a-123", plan: "basic"),
                                         APIKeyConfig(id: "key-2", value: "key-b-456", plan: "free")])
        #expect(config.apiKeys?.plans["basic"] == UsagePlanConfig(throttle: RateLimitConfig(rate: 5, burst: 10),
                                                                  quota: QuotaConfig(limit: 1000, period: .day)))
    }

    @Test func bodySchemaFromFileAndKeysFile() throws {
        try withTemporaryDirectory { dir in
            try #"{"type":"object","required":["a"]}"#.write(toFile: dir + "/s.json", atomically: true, encoding: .utf8)
            try "# value plan id\nkey-c-789 free partner-c\n\nkey-d-000 basic\n".write(toFile: dir + "/keys.txt", atomically: true, encoding: .utf8)
            let yaml = Self.base.replacingOccurrences(of: "  keys:\n", with: "  keys_file: keys.txt\n  keys:\n") + """
                http: {routes: {"POST /a": {integration: ok, validation: {body_file: s.json}}}}
                """
            let config = try loadConfig(yaml, baseDirectory: dir)
            #expect(config.http.routes["POST /a"]?.validation?.bodySchemaJSON == #"{"type":"object","required":["a"]}"#)
            #expect(config.apiKeys?.keys.map(\.id) == ["partner-a", "key-2", "partner-c", "key-4"])
        }
    }

    @Test func timeoutGivenIsRemembered() throws {
        let config = try loadConfig("integrations: {a: {type: http, url: 'http://x/'}, b: {type: http, url: 'http://x/', timeout: 5s}}")
        #expect(config.integrations["a"]?.httpRouteTimeout == 30_000)
        #expect(config.integrations["a"]?.timeout == 29_000)
        #expect(config.integrations["b"]?.httpRouteTimeout == 5_000)
    }

    /// (YAML appended to the base, expected problem key paths)
    static let problems: [(String, [String])] = [
        ("http: {routes: {\"GET /a\": {integration: ok, validation: {bogus: 1}}}}", ["http.routes[\"GET /a\"].validation.bogus"]),
        ("http: {routes: {\"GET /a\": {integration: ok, validation: {body: [1]}}}}", ["http.routes[\"GET /a\"].validation.body"]),
        ("http: {routes: {\"GET /a\": {integration: ok, validation: {body_file: /nonexistent.json}}}}", ["http.routes[\"GET /a\"].validation.body_file"]),
        ("http: {routes: {\"GET /a\": {integration: ok, access_keys: [AK1]}}}", ["http.routes[\"GET /a\"].access_keys"]),
        ("http: {routes: {\"GET /a\": {integration: ok, authorizer: iam, access_keys: [AK9]}}}", ["http.routes[\"GET /a\"].access_keys"]),
        ("http: {routes: {\"GET /a\": {integration: ok, authorizer: jwt, access_keys: [AK1]}}}", ["http.routes[\"GET /a\"].access_keys"]),
        ("http: {routes: {\"GET /a\": {integration: ok, authorizer: iam, scopes: [x]}}}", ["http.routes[\"GET /a\"].scopes"]),
        ("http: {cors: {allow_origins: ['*'], allow_credentials: true}}", ["http.cors.allow_credentials"]),
        ("websocket: {routes: {$default: {integration: api}}}", ["websocket.routes.$default.integration"]),
        ("websocket: {routes: {$connect: {integration: ok, authorizer: iam}}}", ["websocket.routes.$connect.authorizer"]),
    ]

    @Test(arguments: problems)
    func problemsAreReported(_ c: (String, [String])) {
        #expect(problemPaths(Self.base + c.0) == c.1)
    }

    @Test func apiKeyAndAuthorizerProblems() {
        #expect(problemPaths("""
            integrations: {ok: {type: mock}}
            http: {routes: {"GET /a": {integration: ok, api_key_required: true}}}
            """) == ["http.routes[\"GET /a\"].api_key_required"])
        #expect(problemPaths("""
            api_keys:
              plans: {p: {quota: {limit: 0, period: year}}}
              keys: [{value: a, plan: nope}, {value: b, plan: p, extra: 1}, {value: b, plan: p}]
            """) == ["api_keys.plans.p.quota.limit", "api_keys.plans.p.quota.period", "api_keys.keys[0].plan",
                     "api_keys.keys[1].extra", "api_keys.keys"])
        #expect(problemPaths("authorizers: {i: {type: sigv4}}") == ["authorizers.i.keys"])
        #expect(problemPaths("authorizers: {i: {type: sigv4, url: 'http://x/', keys: [{access_key_id: A, secret_access_key: s}]}}") == ["authorizers.i.url"])
        #expect(problemPaths("authorizers: {i: {type: jwt, secret: s, keys: []}}") == ["authorizers.i.keys"])
    }
}

import Testing
@testable import PetrelCore

/// Route selection as API Gateway's HTTP APIs choose (facts §3.3 Routes), one table.
@Suite struct HTTPRouterTests {
    static let keys = [
        "GET /pets/dog/{id}", "GET /pets/{proxy+}", "ANY /{proxy+}", "GET /pets", "POST /pets",
        "GET /pets/dog/1", "ANY /orders/{id}", "GET /orders/{id}", "GET /orders/{id}/items",
        "GET /files/{path+}", "DELETE /a/{x}/c", "GET /a/b/{y}", "GET /", "$default",
    ]

    static func router(_ keys: [String] = keys) throws -> HTTPRouter {
        try HTTPRouter(keys.map { try HTTPRouteKey(parsing: $0) })
    }

    static func chosenKey(_ router: HTTPRouter, _ method: String, _ path: String) -> String? {
        router.match(method: method, path: path).map { router.keys[$0.route].text }
    }

    /// (method, path, chosen key, parameters "name=value" in order)
    static let cases: [(String, String, String, [String])] = [
        ("GET", "/pets/dog/2", "GET /pets/dog/{id}", ["id=2"]),            // AWS worked example 1
        ("GET", "/pets/cat/1", "GET /pets/{proxy+}", ["proxy=cat/1"]),     // AWS worked example 2
        ("POST", "/test/5", "ANY /{proxy+}", ["proxy=test/5"]),            // AWS worked example 3
        ("GET", "/pets/dog/1", "GET /pets/dog/1", []),                     // exact beats parameter
        ("GET", "/pets", "GET /pets", []),
        ("POST", "/pets", "POST /pets", []),
        ("PUT", "/pets", "ANY /{proxy+}", ["proxy=pets"]),                 // no PUT /pets: next path
        ("GET", "/orders/7", "GET /orders/{id}", ["id=7"]),                // method beats ANY
        ("DELETE", "/orders/7", "ANY /orders/{id}", ["id=7"]),
        ("GET", "/orders/7/items", "GET /orders/{id}/items", ["id=7"]),
        ("POST", "/orders/7/items", "ANY /{proxy+}", ["proxy=orders/7/items"]),
        ("GET", "/files/a/b/c.txt", "GET /files/{path+}", ["path=a/b/c.txt"]),
        ("GET", "/files/a%2Fb", "GET /files/{path+}", ["path=a%2Fb"]),     // raw, not decoded
        ("DELETE", "/a/b/c", "DELETE /a/{x}/c", ["x=b"]),                  // literal b fails for DELETE: backtrack to {x}
        ("GET", "/a/b/c", "GET /a/b/{y}", ["y=c"]),
        ("GET", "/", "GET /", []),
        ("POST", "/", "$default", []),                                     // greedy needs a segment
        ("HEAD", "/pets", "GET /pets", []),                                // HEAD falls back to GET
    ]

    @Test(arguments: cases)
    func selects(_ c: (String, String, String, [String])) throws {
        let router = try Self.router()
        let match = try #require(router.match(method: c.0, path: c.1))
        #expect(router.keys[match.route].text == c.2, "\(c.0) \(c.1)")
        #expect(match.rawParameters(in: c.1).map { "\($0.name)=\($0.value)" } == c.3, "\(c.0) \(c.1)")
    }

    @Test func trailingSlashIsNotThePath() throws {
        let router = try Self.router(["GET /pets", "GET /pets/{id}"])
        #expect(router.match(method: "GET", path: "/pets/") == nil)
        #expect(router.match(method: "GET", path: "/pets//x") == nil)
    }

    @Test func noMatchWithoutDefaultIsNil() throws {
        let router = try Self.router(["GET /pets", "POST /pets/{id}"])
        #expect(router.match(method: "DELETE", path: "/pets") == nil)   // 404, not 405
        #expect(router.match(method: "GET", path: "/pets/1") == nil)
        #expect(router.match(method: "GET", path: "/other") == nil)
        #expect(router.match(method: "GET", path: "/pets/1/x") == nil)
    }

    @Test func defaultTakesEverythingElse() throws {
        let router = try Self.router(["GET /pets", "$default"])
        #expect(Self.chosenKey(router, "POST", "/anything/at/all") == "$default")
        #expect(Self.chosenKey(router, "GET", "/pets") == "GET /pets")
    }

    @Test func greedyPrefersDeeperGreedy() throws {
        let router = try Self.router(["ANY /{proxy+}", "ANY /api/{proxy+}"])
        #expect(Self.chosenKey(router, "GET", "/api/x/y") == "ANY /api/{proxy+}")
        #expect(Self.chosenKey(router, "GET", "/apix/y") == "ANY /{proxy+}")
    }

    @Test func sameShapeIsRefused() {
        #expect(throws: HTTPRouter.BuildError.self) { try Self.router(["GET /a/{x}", "GET /a/{y}"]) }
        #expect(throws: HTTPRouter.BuildError.self) { try Self.router(["$default", "$default"]) }
    }

    @Test func differentMethodsSameShapeAreFine() throws {
        let router = try Self.router(["GET /a/{x}", "POST /a/{y}"])
        #expect(router.match(method: "POST", path: "/a/1")?.parameters.first?.name == "y")
    }

    @Test(arguments: [
        "GET pets", "FETCH /pets", "GET  /pets", "GET /pets/{id", "GET /pets/x{id}", "GET /{proxy+}/x",
        "GET /{a}/{a}", "GET /pets//x", "GET /pets/", "GET /{}", "GET /{+}", "get /pets",
    ])
    func invalidKeysAreRefused(_ key: String) {
        #expect(throws: HTTPRouteKey.ParseError.self) { try HTTPRouteKey(parsing: key) }
    }

    @Test func keyShapeIgnoresParameterNames() throws {
        #expect(try HTTPRouteKey(parsing: "GET /a/{x}/{rest+}").shape == "GET /a/{}/{+}")
        #expect(try HTTPRouteKey(parsing: "GET /").segments.isEmpty)
        #expect(try HTTPRouteKey(parsing: "$default").isDefault)
    }
}

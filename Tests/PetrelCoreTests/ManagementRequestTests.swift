import Testing
@testable import PetrelCore

@Test(arguments: [
    ("POST", "/@connections/AAAA", "prod", ManagementRequest.postToConnection(id: "AAAA")),
    ("POST", "/prod/@connections/AAAA", "prod", .postToConnection(id: "AAAA")),
    ("POST", "/prod/%40connections/AAAA%3D", "prod", .postToConnection(id: "AAAA=")),
    ("GET", "/%40connections/R1kmxc2VNjMCFIA%3D", "$default", .getConnection(id: "R1kmxc2VNjMCFIA=")),
    ("DELETE", "/@connections/abc", "$default", .deleteConnection(id: "abc")),
    ("GET", "/@connections", "$default", .listConnections),
    ("PUT", "/@connections/abc/groups/room%201", "$default", .joinGroup(id: "abc", group: "room 1")),
    ("DELETE", "/prod/@connections/abc/groups/g", "prod", .leaveGroup(id: "abc", group: "g")),
    ("POST", "/@groups/g", "$default", .postToGroup(group: "g")),
    ("GET", "/prod/@groups/g", "prod", .getGroup(group: "g")),
    ("GET", "/healthz", "prod", .healthz),
    ("GET", "/prod/readyz", "prod", .readyz),
    ("GET", "/metrics", "$default", .metrics),
    ("GET", "/", "$default", .dashboard),
    ("GET", "/dashboard/events", "$default", .dashboardEvents),
    ("GET", "/prod/dashboard/snapshot", "prod", .dashboardSnapshot),
    ("POST", "/dashboard/events", "$default", .methodNotAllowed),
    ("PATCH", "/@connections/abc", "$default", .methodNotAllowed),
    ("GET", "/other/@connections/abc", "prod", .notFound),
    ("GET", "/@connections/abc/extra", "$default", .notFound),
    ("GET", "/@connections/%zz", "$default", .notFound),
])
func managementPathsParse(method: String, path: String, stage: String, expected: ManagementRequest) {
    #expect(ManagementRequest.parse(method: method, rawPath: path, stage: stage) == expected)
}

@Test func healthEndpointsNeedNoAuth() {
    #expect(!ManagementRequest.healthz.needsAuth)
    #expect(!ManagementRequest.readyz.needsAuth)
    #expect(ManagementRequest.postToConnection(id: "x").needsAuth)
    #expect(ManagementRequest.metrics.needsAuth)
}

@Test func queryPairsAreDecoded() {
    let pairs = PercentDecoding.queryPairs("code=4000&reason=bye%20now&flag")
    #expect(pairs.map { $0.0 } == ["code", "reason", "flag"])
    #expect(pairs.map { $0.1 } == ["4000", "bye now", ""])
}

import Testing
@testable import PetrelConfig

@Suite struct StageVariableTests {
    @Test func substitutedInIntegrationURLsAndHeadersAtLoad() throws {
        let config = try loadConfig("""
            stage_variables: {host: "10.0.0.7:8080", env: prod, url: "https://fn.example/v1"}
            integrations:
              p: {type: http_proxy, url: "http://${stageVariables.host}/{proxy}?e=${stageVariables.env}", headers: {x-env: "${stageVariables.env}"}}
              f: {type: http, url: "${stageVariables.url}"}
              m: {type: mock, body: "${stageVariables.env}"}
            """)
        #expect(config.stageVariables == ["host": "10.0.0.7:8080", "env": "prod", "url": "https://fn.example/v1"])
        #expect(config.integrations["p"]?.url == "http://10.0.0.7:8080/{proxy}?e=prod")
        #expect(config.integrations["p"]?.headers == ["x-env": "prod"])
        #expect(config.integrations["f"]?.url == "https://fn.example/v1")
        // Mock bodies have their own ${context.*} placeholders; stage variables are not theirs.
        #expect(config.integrations["m"]?.body == "${stageVariables.env}")
    }

    @Test func unknownOrMalformedReferencesAreProblemsWithKeyPaths() {
        #expect(configProblems("""
            stage_variables: {a: x}
            integrations: {p: {type: http_proxy, url: "http://${stageVariables.b}/"}}
            """) == [ConfigProblem(keyPath: "integrations.p.url", message: "no stage variable named b in stage_variables")])
        #expect(problemPaths("""
            integrations: {p: {type: http, url: "http://h/", headers: {x-a: "${stageVariables.no pe}"}}}
            """) == ["integrations.p.headers.x-a"])
        #expect(problemPaths("""
            stage_variables: {a: "ftp"}
            integrations: {p: {type: http, url: "${stageVariables.a}://h/"}}
            """) == ["integrations.p.url"])
    }

    @Test func namesValuesAndHeadersAreValidated() {
        #expect(problemPaths("stage_variables: {\"bad-name\": x, ok: \"has space\", fine: v}") == [
            "stage_variables.bad-name", "stage_variables.ok",
        ])
        #expect(problemPaths("integrations: {p: {type: http_proxy, url: \"http://h/\", headers: {\"bad header\": x}}}") == [
            "integrations.p.headers[\"bad header\"]",
        ])
    }
}

import Testing
@testable import PetrelConfig

/// `access_log.sample_rate` and `access_log.fields` (DESIGN §9).
@Suite struct AccessLogConfigTests {
    @Test func sampleRateDefaultsToZeroAndFieldsToAll() throws {
        let log = try #require(try loadConfig("access_log: {path: stdout}").accessLog)
        #expect(log.sampleRate == 0)
        #expect(log.fields == AccessLogField.allCases)
    }

    @Test func sampleRateAndFieldsAreRead() throws {
        let log = try #require(try loadConfig("access_log: {path: stdout, sample_rate: 0.25, fields: [requestId, status, error.message, requestId]}").accessLog)
        #expect(log.sampleRate == 0.25)
        #expect(log.fields == [.requestId, .status, .errorMessage])
    }

    @Test func badValuesNameTheirKeyPaths() {
        #expect(problemPaths("access_log: {path: stdout, sample_rate: 2}") == ["access_log.sample_rate"])
        #expect(problemPaths("access_log: {path: stdout, sample_rate: often}") == ["access_log.sample_rate"])
        #expect(problemPaths("access_log: {path: stdout, fields: [requestId, reqId]}") == ["access_log.fields[1]"])
        #expect(problemPaths("access_log: {path: stdout, fields: []}") == ["access_log.fields"])
        #expect(problemPaths("access_log: {path: stdout, field: [status]}") == ["access_log.field"])
    }
}

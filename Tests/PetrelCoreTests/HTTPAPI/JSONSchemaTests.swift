import Testing
@testable import PetrelCore

@Suite struct JSONSchemaTests {
    static let schemaText = """
        {"$schema":"http://json-schema.org/draft-04/schema#","title":"Order","type":"object",
         "required":["id","items"],
         "properties":{
           "id":{"type":"string","minLength":3,"maxLength":8,"pattern":"^[A-Z]+-[0-9]+$"},
           "qty":{"type":"integer","minimum":1,"maximum":10},
           "price":{"type":"number","minimum":0},
           "kind":{"enum":["retail","wholesale"]},
           "note":{"type":["string","null"]},
           "items":{"type":"array","minItems":1,"maxItems":3,"items":{"type":"object","required":["sku"],
                    "properties":{"sku":{"type":"string"}},"additionalProperties":false}}
         }}
        """

    static func schema() throws -> JSONSchema {
        try JSONSchema(#require(JSONValue.parse(schemaText)))
    }

    /// (body, nil when valid or the start of the violation)
    static let cases: [(String, String?)] = [
        (#"{"id":"AB-1","items":[{"sku":"x"}]}"#, nil),
        (#"{"id":"AB-1","items":[{"sku":"x"}],"qty":10,"price":0.5,"kind":"retail","note":null}"#, nil),
        (#"{"id":"AB-1","items":[{"sku":"x"}],"extra":true}"#, nil),        // additional allowed at top
        (#"{"items":[{"sku":"x"}]}"#, "/: missing required property id"),
        (#"{"id":"AB-1"}"#, "/: missing required property items"),
        (#"{"id":"A-1","items":[{"sku":"x"}]}"#, nil),                       // 3 chars, matches
        (#"{"id":"AB","items":[{"sku":"x"}]}"#, "/id: shorter than 3"),
        (#"{"id":"ABCDEFG-1","items":[{"sku":"x"}]}"#, "/id: longer than 8"),
        (#"{"id":"ab-1","items":[{"sku":"x"}]}"#, "/id: does not match"),
        (#"{"id":7,"items":[{"sku":"x"}]}"#, "/id: expected string"),
        (#"{"id":"AB-1","items":[{"sku":"x"}],"qty":0}"#, "/qty: less than 1"),
        (#"{"id":"AB-1","items":[{"sku":"x"}],"qty":11}"#, "/qty: greater than 10"),
        (#"{"id":"AB-1","items":[{"sku":"x"}],"qty":1.5}"#, "/qty: expected integer"),
        (#"{"id":"AB-1","items":[{"sku":"x"}],"qty":2.0}"#, nil),             // 2.0 is an integer
        (#"{"id":"AB-1","items":[{"sku":"x"}],"kind":"other"}"#, "/kind: not one of"),
        (#"{"id":"AB-1","items":[{"sku":"x"}],"note":5}"#, "/note: expected string or null"),
        (#"{"id":"AB-1","items":[]}"#, "/items: fewer than 1"),
        (#"{"id":"AB-1","items":[{"sku":"a"},{"sku":"b"},{"sku":"c"},{"sku":"d"}]}"#, "/items: more than 3"),
        (#"{"id":"AB-1","items":[{"sku":"a"},{"nope":1}]}"#, "/items/1: missing required property sku"),
        (#"{"id":"AB-1","items":[{"sku":"a","x":1}]}"#, "/items/0: property x is not allowed"),
        (#"[1,2]"#, "/: expected object"),
    ]

    @Test(arguments: cases)
    func validates(_ c: (String, String?)) throws {
        let schema = try Self.schema()
        let value = try #require(JSONValue.parse(c.0))
        let violation = schema.firstViolation(value)
        if let expected = c.1 {
            #expect(violation?.hasPrefix(expected) == true, "\(c.0): \(violation ?? "valid")")
        } else {
            #expect(violation == nil, "\(c.0): \(violation ?? "")")
        }
    }

    @Test(arguments: [
        (#"{"type":"thing"}"#, "/type"),
        (#"{"minLength":-1}"#, "/minLength"),
        (#"{"pattern":"("}"#, "/pattern"),
        (#"{"oneOf":[]}"#, "/oneOf"),
        (#"{"properties":{"a":{"maximum":"x"}}}"#, "/properties/a/maximum"),
        (#"{"additionalProperties":{}}"#, "/additionalProperties"),
        (#"[]"#, ""),
    ])
    func badSchemasAreRefusedWithTheirLocation(_ c: (String, String)) throws {
        let json = try #require(JSONValue.parse(c.0))
        #expect { try JSONSchema(json) } throws: { ($0 as? JSONSchema.CompileError)?.location == c.1 }
    }

    @Test func validatorReportsMissingParametersInOrder() {
        let validator = HTTPRequestValidator(requiredQuery: ["limit", "page"], requiredHeaders: ["x-tenant"])
        let outcome = validator.validate(query: [("page", "2"), ("limit", "")], hasHeader: { _ in false }, body: [])
        #expect(outcome == .missingParameters(["limit", "x-tenant"]))
        #expect(outcome.message == "Missing required request parameters: [limit, x-tenant]")
        #expect(validator.validate(query: [("page", "1"), ("limit", "5")], hasHeader: { $0 == "x-tenant" }, body: []) == .valid)
    }

    @Test func validatorRefusesNonJSONBodies() throws {
        let validator = HTTPRequestValidator(bodySchema: try Self.schema())
        for body in ["", "not json", #"{"id":"AB-1""#] {
            let outcome = validator.validate(query: [], hasHeader: { _ in true }, body: Array(body.utf8))
            #expect(outcome.message == "Invalid request body", "\(body)")
        }
    }
}

@Suite struct JSONValueTests {
    @Test(arguments: [
        (#"{"a":[1,-2.5e3,true,false,null,"x\n\u00e9\ud83d\ude00"]}"#, #"{"a":[1,-2.5e3,true,false,null,"x\né😀"]}"#),
        (" [ ] ", "[]"), ("{}", "{}"), ("0", "0"), (#""\/""#, #""/""#),
    ])
    func roundTrips(_ c: (String, String)) throws {
        #expect(try #require(JSONValue.parse(c.0)).text == c.1)
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "tru", "\"\\x\"", "\"\u{01}\"", "[1] x",
                      "\"\\ud800\"", "{\"a\":1,}", "nul"])
    func refusesInvalid(_ text: String) {
        #expect(JSONValue.parse(text) == nil)
    }

    @Test func limitsDepth() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(JSONValue.parse(deep) == nil)
        #expect(JSONValue.parse(deep, maxDepth: 200) != nil)
    }
}

import Testing
@testable import PetrelCodecs

/// Messages that are not strict RFC 8259 JSON are not evaluable, whatever the expression looks for.
@Suite struct RouteSelectionJSONValidityTests {
    @Test(arguments: [
        "",                                 // nothing
        "hello",                            // plain text
        "aaaa",
        " ",
        #"{"action":"join",}"#,             // trailing comma in an object
        #"["a",]"#,                         // trailing comma in an array
        "{'action':'join'}",                // single quotes
        #"{"action":"join"#,                // unterminated string
        #"{"action":"join""#,               // unterminated object
        #"{"action":"join"} x"#,            // trailing garbage
        #"{"action":"join"}{}"#,            // two values
        #"{"a":"\x"}"#,                     // unknown escape
        #"{"a":"\u12"}"#,                   // short \u escape
        #"{"a":"\u12G4"}"#,                 // non-hex \u escape
        #"{"a":"\ud83d"}"#,                 // lone high surrogate
        #"{"a":"\ud83dx"}"#,                // high surrogate followed by text
        #"{"a":"\ud83d\u0041"}"#,           // high surrogate followed by a non-surrogate
        #"{"a":"\ude00"}"#,                 // lone low surrogate
        "{\"a\":\"tab\there\"}",            // raw control character in a string
        #"{"a":01}"#,                       // leading zero
        #"{"a":1.}"#,                       // fraction without digits
        #"{"a":.5}"#,                       // no integer part
        #"{"a":1e}"#,                       // exponent without digits
        #"{"a":+1}"#,                       // plus sign
        #"{"a":-}"#,                        // lone minus
        #"{"a":NaN}"#,
        #"{"a":tru}"#,                      // truncated keyword
        #"{"a":True}"#,
        #"{a:1}"#,                          // unquoted name
        #"{"a" 1}"#,                        // missing colon
        #"{"a":1 "b":2}"#,                  // missing comma
        #"{,}"#,
        "[",
        "]",
        "\u{FEFF}{}",                       // byte order mark
        "{\"a\":1}\u{0}",                   // NUL after the value
    ])
    func invalidJSONIsNotEvaluable(_ message: String) throws {
        #expect(try routeKey("$request.body.action", message) == .notEvaluable)
    }

    @Test func invalidUTF8InsideAStringIsNotEvaluable() throws {
        let expression = try RouteSelectionExpression(parsing: "$request.body.a")
        let prefix = Array(#"{"a":""#.utf8), suffix = Array(#""}"#.utf8)
        for bad: [UInt8] in [[0xFF], [0xC0, 0x80], [0xC3], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0x80]] {
            #expect(expression.evaluate(prefix + bad + suffix) == .notEvaluable, "bytes \(bad)")
        }
    }

    @Test func invalidJSONIsNotEvaluableEvenWhenTheLookupWasFoundFirst() throws {
        #expect(try routeKey("$request.body.action", #"{"action":"join","x":}"#) == .notEvaluable)
    }

    @Test func nestingUpToTheLimitIsEvaluated() throws {
        let depth = RouteSelectionExpression.maximumNestingDepth
        let message = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        #expect(try routeKey("$request.body.action", message) == .key(""))
    }

    @Test func nestingPastTheLimitIsNotEvaluable() throws {
        let depth = RouteSelectionExpression.maximumNestingDepth + 1
        let arrays = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        let objects = String(repeating: #"{"a":"#, count: depth) + "1" + String(repeating: "}", count: depth)
        #expect(try routeKey("$request.body.action", arrays) == .notEvaluable)
        #expect(try routeKey("$request.body.action", objects) == .notEvaluable)
    }

    @Test func veryDeepHostileMessageDoesNotCrash() throws {
        let message = String(repeating: "[", count: 1_000_000)
        #expect(try routeKey("$request.body.action", message) == .notEvaluable)
    }

    @Test(arguments: ["0", "-0", "1.5", "-1.5e-3", "1E9", "true", "false", "null", #""""#, "{}", "[]"])
    func everyKindOfTopLevelValueIsValid(_ message: String) throws {
        #expect(try routeKey("$request.body.action", message) == .key(""))
    }
}

import Testing
@testable import PetrelCodecs

@Suite struct RouteSelectionEvaluationTests {
    @Test func selectsTheActionMember() throws {
        #expect(try routeKey("$request.body.action", #"{"action":"sendmessage","data":"hello"}"#) == .key("sendmessage"))
    }

    @Test func bracedSingleVariable() throws {
        #expect(try routeKey("${request.body.action}", #"{"action":"join"}"#) == .key("join"))
    }

    @Test func templateMixesLookupsAndText() throws {
        let message = #"{"service":"chat","action":"join"}"#
        #expect(try routeKey("${request.body.service}/${request.body.action}", message) == .key("chat/join"))
    }

    @Test func missingPathYieldsEmptyText() throws {
        let message = #"{"service":"chat","action":"join"}"#
        #expect(try routeKey("${request.body.action}-${request.body.invalidPath}", message) == .key("join-"))
        #expect(try routeKey("$request.body.nope", message) == .key(""))
    }

    @Test func jsonThatIsNotAnObjectYieldsEmptyText() throws {
        #expect(try routeKey("$request.body.action", #""hello""#) == .key(""))
        #expect(try routeKey("$request.body.action", "42") == .key(""))
        #expect(try routeKey("$request.body.action", "[1]") == .key(""))
    }

    @Test func nestedPathWithIndexes() throws {
        let message = #"{"a":{"b":[{"c":"x"},{"c":"y"},{"c":"z"}]}}"#
        #expect(try routeKey("$request.body.a.b[2].c", message) == .key("z"))
        #expect(try routeKey("$request.body.a.b[3].c", message) == .key(""))
        #expect(try routeKey("$request.body.a.b[0].c.d", message) == .key(""))
    }

    @Test func topLevelArrayIndex() throws {
        #expect(try routeKey("$request.body[1]", #"["a","b"]"#) == .key("b"))
    }

    @Test func stringEscapesAreDecoded() throws {
        #expect(try routeKey("$request.body.a", #"{"a":"x\"y\\z\/\b\f\n\r\t"}"#) == .key("x\"y\\z/\u{8}\u{C}\n\r\t"))
    }

    @Test func unicodeEscapesIncludingSurrogatePairs() throws {
        #expect(try routeKey("$request.body.a", #"{"a":"caf\u00e9 \u20AC \ud83d\ude00"}"#) == .key("café € 😀"))
    }

    @Test func rawUTF8IsKept() throws {
        #expect(try routeKey("$request.body.a", #"{"a":"日本語 😀"}"#) == .key("日本語 😀"))
    }

    @Test func escapedMemberNamesMatch() throws {
        #expect(try routeKey("$request.body.action", #"{"act\u0069on":"join"}"#) == .key("join"))
    }

    @Test func nonASCIIMemberNames() throws {
        #expect(try routeKey("${request.body.é}", #"{"é":"ok"}"#) == .key("ok"))
    }

    @Test func numbersAndKeywordsAreTheirLiteralText() throws {
        let message = #"{"n":-12.50e+3,"z":0,"t":true,"f":false,"u":null}"#
        #expect(try routeKey("${request.body.n}|${request.body.z}|${request.body.t}|${request.body.f}|${request.body.u}", message)
            == .key("-12.50e+3|0|true|false|null"))
    }

    @Test func objectsAndArraysBecomeCompactJSON() throws {
        let message = #"{ "a" : { "x" : [ 1 , "s p\" ace" ] , "y" : { } } }"#
        #expect(try routeKey("$request.body.a", message) == .key(#"{"x":[1,"s p\" ace"],"y":{}}"#))
        #expect(try routeKey("$request.body.a.x", message) == .key(#"[1,"s p\" ace"]"#))
    }

    @Test func wholeBody() throws {
        #expect(try routeKey("$request.body", #" {"a": 1} "#) == .key(#"{"a":1}"#))
        #expect(try routeKey("$request.body", #""text""#) == .key("text"))
    }

    @Test func laterDuplicateMemberWins() throws {
        #expect(try routeKey("$request.body.a", #"{"a":"first","a":"second"}"#) == .key("second"))
    }

    @Test func escapedDollarInsideATemplate() throws {
        #expect(try routeKey("\\$${request.body.a}", #"{"a":"x"}"#) == .key("$x"))
    }

    @Test func sameMessageAnyWhitespace() throws {
        #expect(try routeKey("$request.body.action", " \t\r\n{ \"action\" :\n\"join\" }\n ") == .key("join"))
    }

    @Test func staticExpressionIsAlwaysEvaluable() throws {
        #expect(try routeKey("fixed", "hello") == .key("fixed"))
    }
}

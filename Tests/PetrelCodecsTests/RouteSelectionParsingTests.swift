import Testing
@testable import PetrelCodecs

@Suite struct RouteSelectionParsingTests {
    @Test func singleVariableIsNotStatic() throws {
        #expect(try !RouteSelectionExpression(parsing: "$request.body.action").isStatic)
        #expect(try !RouteSelectionExpression(parsing: "${request.body.action}").isStatic)
    }

    @Test func plainTextIsStaticAndIgnoresTheMessage() throws {
        let expression = try RouteSelectionExpression(parsing: "action")
        #expect(expression.isStatic)
        #expect(expression.evaluate(Array("not json at all".utf8)) == .key("action"))
        #expect(expression.evaluate([]) == .key("action"))
    }

    @Test func escapedDollarIsLiteral() throws {
        let expression = try RouteSelectionExpression(parsing: "\\$default")
        #expect(expression.isStatic)
        #expect(expression.evaluate([]) == .key("$default"))
    }

    @Test func otherBackslashesAreLiteral() throws {
        #expect(try routeKey("a\\b", "{}") == .key("a\\b"))
    }

    @Test func pathWithKeysAndIndexes() throws {
        let template = try RouteSelectionTemplate(parsing: "$request.body.a.b[2].c")
        #expect(template.lookups == [[.key(Array("a".utf8)), .key(Array("b".utf8)), .index(2), .key(Array("c".utf8))]])
        #expect(template.segments == [.lookup(0)])
    }

    @Test func repeatedPathIsLookedUpOnce() throws {
        let template = try RouteSelectionTemplate(parsing: "${request.body.a}-${request.body.a}")
        #expect(template.lookups.count == 1)
        #expect(template.segments == [.lookup(0), .literal("-"), .lookup(0)])
    }

    @Test func unbracedVariableEndsAtAPunctuationCharacter() throws {
        let template = try RouteSelectionTemplate(parsing: "$request.body.kind/x")
        #expect(template.segments == [.lookup(0), .literal("/x")])
    }

    @Test func bracedKeyMayHoldAnyCharacterButDotBracketAndBrace() throws {
        let template = try RouteSelectionTemplate(parsing: "${request.body.my key/é}")
        #expect(template.lookups == [[.key(Array("my key/é".utf8))]])
    }

    @Test func wholeBodyIsALookupWithAnEmptyPath() throws {
        #expect(try RouteSelectionTemplate(parsing: "$request.body").lookups == [[]])
        #expect(try RouteSelectionTemplate(parsing: "${request.body}").lookups == [[]])
    }

    @Test(arguments: [
        "",                          // empty
        "$default",                  // unknown variable (meant \$default)
        "$request.header.x",         // only the body is supported
        "${request.body.action",     // unterminated brace
        "$request.body.",            // empty key
        "$request.body..a",          // empty key
        "$request.body.a[",          // unterminated index
        "$request.body.a[x]",        // non-numeric index
        "$request.body.a[99999999999999999999]",  // overflow
        "$request.bodyx",            // not the body
        "price in $",                // a lone dollar
    ])
    func rejects(_ expression: String) {
        #expect(throws: RouteSelectionParseError.self) { try RouteSelectionExpression(parsing: expression) }
    }

    @Test func errorNamesTheOffset() {
        #expect(throws: RouteSelectionParseError(
            expression: "x-${request.body.a", offset: 18,
            reason: "expected \"}\" to close the variable started at offset 2")
        ) {
            try RouteSelectionExpression(parsing: "x-${request.body.a")
        }
    }

    @Test func tooManyDifferentLookupsAreRejected() {
        let expression = (0...RouteSelectionTemplate.maximumLookups).map { "${request.body.k\($0)}" }.joined()
        #expect(throws: RouteSelectionParseError.self) { try RouteSelectionExpression(parsing: expression) }
    }

    @Test func sixtyFourLookupsAreEvaluated() throws {
        let expression = (0..<RouteSelectionTemplate.maximumLookups).map { "${request.body.k\($0)}" }.joined()
        let message = "{" + (0..<64).map { "\"k\($0)\":\($0 % 10)" }.joined(separator: ",") + "}"
        let expected = (0..<64).map { String($0 % 10) }.joined()
        #expect(try routeKey(expression, message) == .key(expected))
    }
}

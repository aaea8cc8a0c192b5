@testable import PetrelCodecs

/// Parses `expression` and evaluates it against the UTF-8 of `message`.
func routeKey(_ expression: String, _ message: String) throws -> RouteSelectionResult {
    try RouteSelectionExpression(parsing: expression).evaluate(Array(message.utf8))
}

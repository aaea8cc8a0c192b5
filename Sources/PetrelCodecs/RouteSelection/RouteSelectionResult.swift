/// What a route-selection expression made of one message.
public enum RouteSelectionResult: Equatable, Sendable {
    /// The evaluated route key. It may name no configured route (or be empty, when every lookup
    /// missed); the caller then falls back to `$default`, as API Gateway does.
    case key(String)
    /// The expression needed the message's JSON and the message is not valid JSON (or is nested
    /// deeper than ``RouteSelectionExpression/maximumNestingDepth``): the message goes to `$default`.
    case notEvaluable
}

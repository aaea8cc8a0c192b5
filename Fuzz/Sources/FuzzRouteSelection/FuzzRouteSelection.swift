import PetrelCodecs

/// Input: an expression, a 0x00 byte, then the message. Any expression that parses is evaluated
/// against the message, as are a few fixed ones, so the JSON scanner is fuzzed even when the
/// expression bytes are garbage. Oracle: no crash, and evaluation is deterministic.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeBufferPointer(start: data, count: size)
    let separator = input.firstIndex(of: 0) ?? size
    let expressionText = String(decoding: UnsafeBufferPointer(rebasing: input[..<separator]), as: UTF8.self)
    let message = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(input)[min(size, separator + 1)...])

    var expressions = fixedExpressions
    if let fuzzed = try? RouteSelectionExpression(parsing: expressionText) {
        expressions.append(fuzzed)
    }
    for expression in expressions {
        let first = expression.evaluate(message)
        precondition(first == expression.evaluate(message), "evaluation is not deterministic")
    }
    return 0
}

private let fixedExpressions: [RouteSelectionExpression] = [
    "$request.body.action",
    "$request.body.a.b[1].c",
    "${request.body.service}/${request.body.action}",
    "\\$default",
].map { try! RouteSelectionExpression(parsing: $0) }

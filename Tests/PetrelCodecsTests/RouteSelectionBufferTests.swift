import Testing
@testable import PetrelCodecs

/// The expression reads only the bytes it is given, wherever they live.
@Suite struct RouteSelectionBufferTests {
    let expression = try! RouteSelectionExpression(parsing: "$request.body.action")
    let message = Array(#"{"action":"join"}"#.utf8)

    @Test func buffersWithoutABaseAddress() {
        #expect(expression.evaluate(UnsafeRawBufferPointer(start: nil, count: 0)) == .notEvaluable)
    }

    @Test func sliceOfALargerBufferAtAnOddOffset() {
        let padded = Array("xxx".utf8) + message + Array("}garbage".utf8)
        let result = padded.withUnsafeBytes { bytes in
            expression.evaluate(UnsafeRawBufferPointer(rebasing: bytes[3..<(3 + message.count)]))
        }
        #expect(result == .key("join"))
    }

    @Test func bufferCutShortIsNotEvaluable() {
        for length in 0..<message.count {
            let result = message.withUnsafeBytes { expression.evaluate(UnsafeRawBufferPointer(rebasing: $0[..<length])) }
            #expect(result == .notEvaluable, "length \(length)")
        }
    }

    @Test func contiguousArrayAndStringStorage() {
        var text = #"{"action":"join"}"#
        let fromString = text.withUTF8 { expression.evaluate(UnsafeRawBufferPointer($0)) }
        let fromContiguous = ContiguousArray(message).withUnsafeBytes { expression.evaluate($0) }
        #expect(fromString == .key("join"))
        #expect(fromContiguous == .key("join"))
    }

    @Test func freshlyAllocatedUnalignedMemory() {
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: message.count + 1, alignment: 1)
        defer { raw.deallocate() }
        let shifted = UnsafeMutableRawBufferPointer(rebasing: raw[1...])
        shifted.copyBytes(from: message)
        #expect(expression.evaluate(UnsafeRawBufferPointer(shifted)) == .key("join"))
    }

    @Test func oneExpressionEvaluatesManyMessagesIndependently() {
        let messages = [#"{"action":"a"}"#, "nope", #"{"other":1}"#, #"{"action":"b"}"#]
        let results = messages.map { expression.evaluate(Array($0.utf8)) }
        #expect(results == [.key("a"), .notEvaluable, .key(""), .key("b")])
    }
}

import PetrelCodecs

/// Oracle: the standard library's own validation. Also checks that feeding in two pieces, split
/// where the first byte says, agrees with validating the whole.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let wholeIsValid = UTF8Validator.isValid(bytes)
    let reference = String(validating: UnsafeBufferPointer(start: data, count: size), as: UTF8.self) != nil
    precondition(wholeIsValid == reference, "UTF8Validator disagrees with String(validating:)")

    if size > 0 {
        let split = Int(data[0]) % (size + 1)
        var validator = UTF8Validator()
        let firstOK = validator.feed(UnsafeRawBufferPointer(rebasing: bytes[..<split]))
        let secondOK = firstOK && validator.feed(UnsafeRawBufferPointer(rebasing: bytes[split...]))
        precondition((secondOK && validator.isAtBoundary) == wholeIsValid, "split feeding disagrees with whole")
    }
    return 0
}

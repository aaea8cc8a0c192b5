import Glibc
import PetrelConfig

/// Input: YAML text (invalid UTF-8 is replaced, as a file read would refuse it earlier).
/// Oracle: loading never crashes or hangs; a failure names at least one problem; loading the same
/// text twice gives the same answer (checked on one input size in eight: a second load halves the
/// rate). Relative paths resolve under a directory that does not exist, and `${env:...}` sees a
/// fixed two-variable environment, so runs are deterministic.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let yaml = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let environment = ["PETREL_FUZZ": "value", "TLS_KEY": "-----BEGIN PRIVATE KEY-----"]
    let base = "/nonexistent-petrel-fuzz"
    let first = ConfigLoader.load(yaml: yaml, environment: environment, baseDirectory: base)
    if case .failure(let errors) = first {
        precondition(!errors.problems.isEmpty, "a failed load must say why")
    }
    guard size % 8 == 0 else { return 0 }
    let second = ConfigLoader.load(yaml: yaml, environment: environment, baseDirectory: base)
    switch (first, second) {
    case (.success(let a), .success(let b)):
        precondition(a == b, "the same text loaded twice gave two configurations")
    case (.failure(let a), .failure(let b)):
        // Known and accepted: when several mappings repeat keys, Yams reports whichever its
        // dictionary walk meets first, so that one message (not the outcome) may vary.
        if a.problems.count == 1, a.problems[0].message.contains("repeats key") { break }
        if a.problems.map(\.description) != b.problems.map(\.description) {
            let text = "first load: \(a.problems)\nsecond load: \(b.problems)\n"
            _ = text.withCString { write(2, $0, strlen($0)) }
            preconditionFailure("problems differ between two loads")
        }
    default:
        preconditionFailure("the same text loaded twice succeeded once and failed once")
    }
    return 0
}

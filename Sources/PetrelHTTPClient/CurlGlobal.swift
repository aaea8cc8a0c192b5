import CCurl

/// `curl_global_init` must run once per process before any other curl call, and is not itself
/// thread-safe. A Swift global is initialised lazily under `swift_once`, which gives exactly that:
/// the first client on any thread runs it, every other thread waits for it.
private let curlGlobalInitCode: UInt32 = curl_global_init(petrel_curl_global_default).rawValue

enum CurlGlobal {
    static func ensureInitialised() {
        precondition(curlGlobalInitCode == CURLE_OK.rawValue, "curl_global_init failed with code \(curlGlobalInitCode)")
    }
}

import Glibc

/// The pidfile `--takeover` uses to find the process it replaces (DESIGN §2): one file per public
/// port, in the runtime directory.
struct PidFile {
    let path: String

    init(port: Int) {
        let dir = getenv("XDG_RUNTIME_DIR").map { String(cString: $0) } ?? "/tmp"
        path = "\(dir)/petrel-\(port).pid"
    }

    /// Tells the process named in the pidfile to drain (SIGTERM), now that we accept beside it.
    func signalPrevious() {
        guard let file = fopen(path, "r") else { return }
        defer { fclose(file) }
        var pid: Int32 = 0
        if fscanf_pid(file, &pid), pid > 0, pid != getpid() {
            Log.info("takeover: draining previous process", ["pid": .int(Int(pid))])
            kill(pid, SIGTERM)
        }
    }

    func write() {
        guard let file = fopen(path, "w") else { return }
        fputs("\(getpid())\n", file)
        fclose(file)
    }

    /// Removes the pidfile only if it still names us (a successor may have replaced it).
    func remove() {
        guard let file = fopen(path, "r") else { return }
        var pid: Int32 = 0
        let ours = fscanf_pid(file, &pid) && pid == getpid()
        fclose(file)
        if ours { unlink(path) }
    }

    private func fscanf_pid(_ file: UnsafeMutablePointer<FILE>, _ pid: inout Int32) -> Bool {
        var buffer = [CChar](repeating: 0, count: 32)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return false }
        let text = String(cString: buffer).trimmingCharacters(in: " \n")
        guard let value = Int32(text) else { return false }
        pid = value
        return true
    }
}

private extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let c = s.first, set.contains(c) { s = s.dropFirst() }
        while let c = s.last, set.contains(c) { s = s.dropLast() }
        return String(s)
    }
}

import PetrelLoop

/// `GET /dashboard/events`: a `text/event-stream` response in chunked coding that never ends on
/// its own; every second one `data:` event carries the snapshot JSON (`DashboardSnapshot`).
/// The admin listener runs on loop 0, so every stream lives there, and one gather across loops
/// a second serves them all. A drain ends each stream with the last chunk, then closes it.
///
/// Writes never wait: a client more than `maxBufferedBytes` behind is not reading and is closed.
final class DashboardStreams {
    unowned let worker: Worker
    private var streams: [Connection] = []
    private var timer: LoopTimer?
    private var gathering = false

    static let intervalMs: UInt64 = 1000
    static let maxBufferedBytes = 1 << 20

    init(worker: Worker) {
        self.worker = worker
    }

    /// Sends the response head, then the first event as soon as the loops have answered.
    func add(_ connection: Connection) {
        let head = HTTPResponse(status: 200, headers: [("Content-Type", "text/event-stream"), ("Cache-Control", "no-store"),
                                                      ("X-Content-Type-Options", "nosniff")])
        worker.observeResponse(connection, head)
        // Requests pipelined behind the stream are never read, and no deadline applies to it.
        connection.awaitingResponse = (keepAlive: false, head: false)
        connection.phaseDeadlineMs = .max
        write(Array(head.serializedHead(keepAlive: false, framing: "Transfer-Encoding: chunked").utf8), to: connection)
        streams.append(connection)
        if timer == nil {
            let made = LoopTimer(loop: worker.loop) { [unowned self] in self.push() }
            timer = made
            made.start(everyMs: Self.intervalMs)
        }
        push()
    }

    private func push() {
        streams.removeAll { $0.phase != .http }
        guard !streams.isEmpty else {
            timer?.close()
            timer = nil
            return
        }
        // A gather still out (a busy loop) is not stacked with another.
        guard !gathering else { return }
        gathering = true
        worker.dashboardSnapshot { [weak self] json in
            guard let self else { return }
            self.gathering = false
            let event = Array("data: \(json)\n\n".utf8)
            let chunk = Array(String(event.count, radix: 16).utf8) + [13, 10] + event + [13, 10]
            for connection in self.streams where connection.phase == .http {
                if connection.stream.pendingWriteBytes > Self.maxBufferedBytes {
                    connection.stream.close()
                } else {
                    self.write(chunk, to: connection)
                }
            }
        }
    }

    /// The last chunk, then a graceful close: the client sees the stream end, not a reset.
    func endAll() {
        timer?.close()
        timer = nil
        for connection in streams where connection.phase == .http {
            write(Array("0\r\n\r\n".utf8), to: connection)
            connection.finishAfterFlush()
        }
        streams.removeAll()
    }

    private func write(_ bytes: [UInt8], to connection: Connection) {
        bytes.withUnsafeBytes { connection.stream.write($0) }
        connection.stream.flush()
    }
}

extension Worker {
    /// One dashboard snapshot (JSON) of every loop's counters and this node's status.
    func dashboardSnapshot(_ done: @escaping (String) -> Void) {
        gatherMetrics { [unowned self] set in
            let node = DashboardSnapshot.NodeStatus(id: shared.nodeId, readiness: AdminRoutes.readiness(shared),
                                                    peers: cluster?.knownNodes ?? [:])
            done(DashboardSnapshot.json(set, node: node, nowMs: WallClock.nowMs()))
        }
    }

    func startDashboardStream(_ admin: Connection) -> HTTPResponse? {
        // Answers still owed on this connection would have to come after a stream that never ends.
        guard admin.http?.admin.isEmpty ?? false else {
            return ManagementError.badRequest("the event stream must not be pipelined behind other requests")
        }
        let streams = dashboardStreams ?? DashboardStreams(worker: self)
        dashboardStreams = streams
        streams.add(admin)
        return nil
    }
}

"""Cluster fixtures for the black-box Redis-registry tests (DESIGN §7, issue 5).

- `RedisServer`: a real `redis-server` on a free loopback port (no persistence), with a tiny RESP
  client (`r.cmd("HGETALL", key)`), stop()/start() on the same port (an outage; data is lost, as
  with `--save ""`), pause()/resume() (SIGSTOP/SIGCONT: a Redis that hangs).
- `redis` fixture: one RedisServer per test, stopped at teardown.
- `cluster` fixture: `cluster.node("node-a", config_yaml)` starts `petrel serve --redis URL
  --node-id ID` (pass `via_config=True` to put both in the YAML instead); teardown resumes Redis
  and any SIGSTOPped node, SIGTERMs every node in parallel and checks exit code 0 for the nodes the
  test did not kill itself.

Loopback only; every process started here is stopped here, by its own pid.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import textwrap
import threading
import time
from pathlib import Path

import pytest

from petrel_harness import PetrelServer, free_port

REDIS_SERVER = os.environ.get("REDIS_SERVER", "redis-server")


class RedisError(Exception):
    pass


class Resp:
    """Minimal RESP2 client over one loopback socket (decoded str replies)."""

    def __init__(self, port: int, timeout: float = 3.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.f = self.sock.makefile("rb")

    def close(self):
        try:
            self.f.close()
            self.sock.close()
        except OSError:
            pass

    def __call__(self, *args):
        out = [f"*{len(args)}\r\n".encode()]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out.append(f"${len(b)}\r\n".encode() + b + b"\r\n")
        self.sock.sendall(b"".join(out))
        return self._read()

    def _read(self):
        line = self.f.readline()
        if not line:
            raise ConnectionError("redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data.decode("utf-8", "replace")
        if kind == b"*":
            n = int(rest)
            if n < 0:
                return None
            return [self._read() for _ in range(n)]
        raise RedisError(f"bad RESP line {line!r}")


class RedisServer:
    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.paused = False
        self._conn: Resp | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0):
        """Start on self.port (a fresh free port the first time)."""
        attempts = 3 if self.port is None else 1
        last = ""
        for _ in range(attempts):
            port = self.port or free_port()
            log = self.workdir / f"redis-{port}.log"
            self.proc = subprocess.Popen(
                [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.workdir), "--logfile", str(log),
                 "--daemonize", "no"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    c = Resp(port, timeout=1)
                    try:
                        if c("PING") == "PONG":
                            self.port = port
                            return self
                    finally:
                        c.close()
                except (OSError, RedisError, ConnectionError):
                    pass
                time.sleep(0.05)
            last = log.read_text() if log.exists() else ""
            self._kill_proc()
        raise RuntimeError(f"redis-server did not answer PING on port {self.port}: {last[-2000:]}")

    def _kill_proc(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # only our own child, by pid
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def stop(self):
        """Stop the server (SIGTERM, then SIGKILL after 5 s); the port is kept for start()."""
        self.resume()
        self._drop_conn()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._kill_proc()

    def pause(self):
        if self.proc is not None and self.proc.poll() is None:
            self._drop_conn()
            self.proc.send_signal(signal.SIGSTOP)
            self.paused = True

    def resume(self):
        if self.paused and self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
        self.paused = False

    def _drop_conn(self):
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def cmd(self, *args):
        """One command on a cached connection (reconnects once if Redis restarted)."""
        with self._lock:
            for attempt in range(2):
                try:
                    if self._conn is None:
                        self._conn = Resp(self.port)
                    return self._conn(*args)
                except (OSError, ConnectionError):
                    if self._conn is not None:
                        self._conn.close()
                    self._conn = None
                    if attempt == 1:
                        raise

    # -- conveniences ----------------------------------------------------------------------
    def hgetall(self, key: str) -> dict:
        flat = self.cmd("HGETALL", key) or []
        return dict(zip(flat[0::2], flat[1::2]))

    def smembers(self, key: str) -> set:
        return set(self.cmd("SMEMBERS", key) or [])

    def exists(self, key: str) -> bool:
        return self.cmd("EXISTS", key) == 1

    def keys(self, pattern: str) -> set:
        out, cursor = set(), "0"
        while True:
            cursor, batch = self.cmd("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
            out.update(batch)
            if cursor == "0":
                return out

    def conn_ids(self) -> set:
        """Ids with a `petrel:conn:{id}` key (sub-keys such as `petrel:conn:{id}:groups` excluded)."""
        return {k[len("petrel:conn:"):] for k in self.keys("petrel:conn:*")
                if ":" not in k[len("petrel:conn:"):]}

    def total_commands(self) -> int:
        for line in self.cmd("INFO", "stats").splitlines():
            if line.startswith("total_commands_processed:"):
                return int(line.split(":", 1)[1])
        raise RedisError("no total_commands_processed in INFO stats")


class Cluster:
    def __init__(self, binary: str, redis: RedisServer, tmp_path: Path):
        self.binary = binary
        self.redis = redis
        self.tmp_path = tmp_path
        self.nodes: dict[str, PetrelServer] = {}
        self.killed: set[str] = set()
        self.stopped: set[str] = set()  # SIGSTOPped

    def node(self, node_id: str, config_yaml: str, threads: int = 2, via_config: bool = False,
             extra_args: list[str] | None = None) -> PetrelServer:
        cfg = self.tmp_path / f"petrel-{node_id}.yaml"
        text = textwrap.dedent(config_yaml)
        args = list(extra_args or [])
        if via_config:
            text = f'node: {{id: {node_id}}}\nregistry: {{redis: "{self.redis.url}"}}\n' + text
        else:
            args = ["--redis", self.redis.url, "--node-id", node_id] + args
        cfg.write_text(text)
        srv = PetrelServer(self.binary, config_path=str(cfg), threads=threads, extra_args=args,
                           cwd=str(self.tmp_path))
        srv.node_id = node_id
        srv.wait_ready()  # kills the process itself when it does not come up
        self.nodes[node_id] = srv
        return srv

    def sigkill(self, node_id: str):
        srv = self.nodes[node_id]
        self.killed.add(node_id)
        srv.proc.send_signal(signal.SIGKILL)
        srv.wait_exit(10)

    def sigstop(self, node_id: str):
        self.stopped.add(node_id)
        self.nodes[node_id].proc.send_signal(signal.SIGSTOP)

    def sigcont(self, node_id: str):
        if node_id in self.stopped:
            self.stopped.discard(node_id)
            srv = self.nodes[node_id]
            if srv.proc.poll() is None:
                srv.proc.send_signal(signal.SIGCONT)

    def teardown(self) -> list[str]:
        self.redis.resume()
        for nid in list(self.stopped):
            self.sigcont(nid)
        live = {nid: s for nid, s in self.nodes.items() if nid not in self.killed}
        exited_early = {nid: s.proc.poll() for nid, s in live.items()}
        for s in live.values():
            if s.proc.poll() is None:
                s.signal(signal.SIGTERM)
        problems = []
        for nid, s in live.items():
            rc = s.wait_exit(20)
            if rc is None:
                s.kill()
            if exited_early[nid] is not None and not s.term_sent:
                problems.append(f"{nid} exited on its own with {exited_early[nid]}\n{s.describe()}")
            elif rc != 0:
                problems.append(f"{nid}: exit code on SIGTERM was {rc} (None = had to be killed)\n"
                                f"{s.describe()}")
        for nid in self.killed:
            self.nodes[nid].kill()
        return problems


@pytest.fixture
def redis(tmp_path):
    r = RedisServer(tmp_path)
    r.start()
    yield r
    r.stop()


@pytest.fixture
def cluster(petrel_bin, redis, tmp_path):
    c = Cluster(petrel_bin, redis, tmp_path)
    yield c
    problems = c.teardown()
    assert not problems, "\n".join(problems)

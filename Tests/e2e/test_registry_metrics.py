"""Registry and Redis metrics (issue 8) with a real redis-server: `petrel_registry_operations_total`
and `petrel_registry_duration_seconds` move with connects and disconnects (never per echoed
message); stopping Redis shows `petrel_redis_connected` 0 and errors by operation; a restarted
Redis is reconnected and counted in `petrel_redis_reconnects_total`. /metrics is parsed by
prometheus_client's text parser."""
from __future__ import annotations

import time

import pytest

from cluster_harness import redis  # noqa: F401  (fixture)
from petrel_harness import ws_connect
from test_observability import samples as scrape  # /metrics parsed by prometheus_client

pytestmark = [pytest.mark.timeout(90),
              pytest.mark.filterwarnings("ignore:connect\\(\\) must be used:DeprecationWarning")]

CONFIG = """
listeners:
  admin:
    address: 127.0.0.1:0
    auth: {bearer_tokens: [reg-token], public_metrics: true}
websocket:
  routes: {$default: {integration: echo}}
integrations: {echo: {type: mock, mode: echo}}
"""


def total(snap: dict, name: str, **labels) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in snap.items() if n == name and want <= ls)


def wait_for(srv, pred, what: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        snap = scrape(srv)
        if pred(snap):
            return snap
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s; registry samples: " + str(
            {(n, tuple(sorted(ls))): v for (n, ls), v in snap.items() if "registry" in n or "redis" in n})
        time.sleep(0.1)


def connected(snap: dict) -> list[float]:
    return [v for (n, _), v in snap.items() if n == "petrel_redis_connected"]


def test_registry_counters_follow_connections_and_redis_outages(petrel_server, redis):  # noqa: F811
    srv = petrel_server(CONFIG, threads=2, extra_args=["--redis", redis.url, "--node-id", "n1"])
    snap = wait_for(srv, lambda s: connected(s) == [1.0, 1.0], "both loops connected to Redis")
    assert total(snap, "petrel_redis_reconnects_total") == 0
    wait_for(srv, lambda s: total(s, "petrel_registry_operations_total", op="heartbeat", result="ok") >= 1, "a heartbeat")

    clients = [ws_connect(srv.url) for _ in range(3)]
    for ws in clients:
        for i in range(20):
            ws.send(f"m{i}")
            assert ws.recv(timeout=5) == f"m{i}"
        ws.close()
    snap = wait_for(srv, lambda s: total(s, "petrel_registry_operations_total", op="unregister") >= 3, "3 unregisters")
    assert total(snap, "petrel_registry_operations_total", op="register", result="ok") == 3
    assert total(snap, "petrel_registry_operations_total", op="unregister", result="ok") == 3
    assert total(snap, "petrel_registry_duration_seconds_count", op="register") == 3
    assert total(snap, "petrel_registry_duration_seconds_bucket", op="register", le="+Inf") == 3
    assert 0 < total(snap, "petrel_registry_duration_seconds_sum", op="register") < 3
    # 60 echoes cost no registry call: only connect/disconnect and the cluster's own traffic.
    per_message_ops = {ls for (n, ls), _ in snap.items() if n == "petrel_registry_operations_total"}
    assert {dict(ls)["op"] for ls in per_message_ops} <= {"register", "unregister", "heartbeat", "touch"}, per_message_ops

    redis.stop()
    snap = wait_for(srv, lambda s: connected(s) == [0.0, 0.0], "both loops see Redis gone")
    with ws_connect(srv.url) as ws:  # still opens; its registration fails
        ws.send("x")
        assert ws.recv(timeout=5) == "x"
    errors = lambda s: {dict(ls)["op"]: v for (n, ls), v in s.items()  # noqa: E731
                        if n == "petrel_registry_operations_total" and dict(ls)["result"] != "ok"}
    snap = wait_for(srv, lambda s: errors(s).get("register", 0) >= 1 and errors(s).get("heartbeat", 0) >= 1,
                    "failed registration and heartbeat counted")
    assert total(snap, "petrel_registry_operations_total", op="register", result="ok") == 3

    redis.start()
    snap = wait_for(srv, lambda s: connected(s) == [1.0, 1.0], "reconnected", timeout=20)
    assert total(snap, "petrel_redis_reconnects_total") == 2, "one reconnect per loop"

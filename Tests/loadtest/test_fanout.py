"""fanout: clients learn their ids from a whoami route, the tool posts through @connections and
measures post → receive latency (DESIGN §6, §10)."""
from __future__ import annotations

import pytest

from conftest import check_shape
from fake_servers import FakeGateway
from petrel_harness import http_request


@pytest.fixture
def fake_gateway():
    gws = []

    def _start(**kw):
        gw = FakeGateway(**kw)
        gws.append(gw)
        return gw

    yield _start
    for gw in gws:
        gw.close()


def test_fanout_against_the_contract_mock(fake_gateway, run_loadtest):
    gw = fake_gateway(token="sekrit")
    rc, report, out, err = run_loadtest("fanout", "-c", "10", "--rate", "300", "-d", "2s",
                                        "--admin-url", f"http://127.0.0.1:{gw.admin_port}", "--token", "sekrit", gw.url)
    assert rc == 0, err
    check_shape(report)
    t = report["totals"]
    assert t["errors"] == 0, t["errors_by_kind"]
    assert 500 <= t["messages"] <= 700, t["messages"]
    assert report["latency_us"]["p50"] > 0
    assert "deliveries" in out


def test_fanout_wrong_token_counts_403(fake_gateway, run_loadtest):
    gw = fake_gateway(token="sekrit")
    rc, report, _, _ = run_loadtest("fanout", "-c", "3", "-d", "1s",
                                    "--admin-url", f"http://127.0.0.1:{gw.admin_port}", "--token", "wrong", gw.url)
    kinds = report["totals"]["errors_by_kind"]
    assert set(kinds) == {"post_http_403"}, kinds
    assert report["totals"]["messages"] == 0


FANOUT_CONFIG = """
listeners:
  admin: {address: 127.0.0.1:0, auth: {bearer_tokens: [lt-token]}}
websocket:
  route_selection: $request.body.action
  routes:
    $default: {integration: echo, respond: true}
    whoami: {integration: whoami, respond: true}
integrations:
  echo: {type: mock, mode: echo}
  whoami: {type: mock, status: 200, body: '{"connectionId":"${context.connectionId}"}'}
"""


def test_fanout_against_petrel(petrel_server, run_loadtest):
    srv = petrel_server(FANOUT_CONFIG)
    probe = http_request(srv.admin_port, "POST", "/@connections/AAAAAAAAAAAAAAAA",
                         headers={"Authorization": "Bearer lt-token"}, body=b"x")
    if probe.status in (404, 405, 501):
        pytest.fail(f"POST /@connections answered {probe.status}")
    rc, report, _, err = run_loadtest("fanout", "-c", "20", "--rate", "500", "-d", "2s",
                                      "--admin-url", f"http://127.0.0.1:{srv.admin_port}", "--token", "lt-token", srv.url)
    assert rc == 0, err
    t = report["totals"]
    assert t["errors"] == 0, t["errors_by_kind"]
    assert t["messages"] >= 900


def test_fanout_to_a_group_against_petrel(petrel_server, run_loadtest):
    srv = petrel_server(FANOUT_CONFIG)
    probe = http_request(srv.admin_port, "POST", "/@groups/probe", headers={"Authorization": "Bearer lt-token"}, body=b"x")
    if probe.status in (404, 405, 501):
        pytest.fail(f"POST /@groups answered {probe.status}")
    rc, report, _, err = run_loadtest("fanout", "-c", "10", "--rate", "100", "-d", "2s", "--group", "room1",
                                      "--admin-url", f"http://127.0.0.1:{srv.admin_port}", "--token", "lt-token", srv.url)
    assert rc == 0, err
    t = report["totals"]
    assert t["errors"] == 0, t["errors_by_kind"]
    assert 1600 <= t["messages"] <= 2400, t["messages"]  # 100 posts/s × 10 members × 2 s

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


SIGV4_CONFIG = "stage: prod\n" + FANOUT_CONFIG.replace(
    "{bearer_tokens: [lt-token]}", "{sigv4: [{access_key_id: AKIDLOADTEST, secret_access_key: lt-secret/+=}]}")


@pytest.mark.parametrize("stage", ["", "/prod"])
def test_fanout_with_sigv4_against_petrel(petrel_server, run_loadtest, stage):
    srv = petrel_server(SIGV4_CONFIG)
    rc, report, out, err = run_loadtest("fanout", "-c", "10", "--rate", "200", "-d", "2s",
                                        "--admin-url", f"http://127.0.0.1:{srv.admin_port}{stage}",
                                        "--access-key", "AKIDLOADTEST", "--secret-key", "lt-secret/+=",
                                        "--region", "eu-west-1", srv.url)
    assert rc == 0, err
    t = report["totals"]
    assert t["errors"] == 0, t["errors_by_kind"]
    assert report["params"]["auth"] == "sigv4"
    # every post is delivered: 200 posts/s for 2 s, minus those still in flight at the end.
    # "In flight" counts posts not yet answered; a post answered 200 whose frame is still on its
    # way to the receiver when the window closes is in neither count (at most a couple at 200/s).
    assert 0 <= t["sent"] - t["messages"] - t["in_flight_at_end"] <= 2, t
    assert 360 <= t["messages"] <= 440, t


def test_fanout_to_a_group_with_sigv4_against_petrel(petrel_server, run_loadtest):
    srv = petrel_server(SIGV4_CONFIG)
    rc, report, _, err = run_loadtest("fanout", "-c", "5", "--rate", "50", "-d", "2s", "--group", "g1",
                                      "--admin-url", f"http://127.0.0.1:{srv.admin_port}/prod",
                                      "--access-key", "AKIDLOADTEST", "--secret-key", "lt-secret/+=", srv.url)
    assert rc == 0, err
    t = report["totals"]
    assert t["errors"] == 0, t["errors_by_kind"]
    assert 400 <= t["messages"] <= 600, t["messages"]  # 50 posts/s × 5 members × 2 s


def test_fanout_with_a_wrong_sigv4_secret_counts_403(petrel_server, run_loadtest):
    srv = petrel_server(SIGV4_CONFIG)
    rc, report, _, err = run_loadtest("fanout", "-c", "3", "--rate", "100", "-d", "1s",
                                      "--admin-url", f"http://127.0.0.1:{srv.admin_port}",
                                      "--access-key", "AKIDLOADTEST", "--secret-key", "wrong", srv.url)
    t = report["totals"]
    assert set(t["errors_by_kind"]) == {"post_http_403"}, t["errors_by_kind"]
    assert t["errors_by_kind"]["post_http_403"] >= 80
    assert t["messages"] == 0


def test_sigv4_flags_are_checked(run_loadtest):
    rc, _, _, err = run_loadtest("fanout", "--admin-url", "http://127.0.0.1:9", "--access-key", "A",
                                 "ws://127.0.0.1:9/", json_report=False)
    assert rc == 2 and "--secret-key" in err, err

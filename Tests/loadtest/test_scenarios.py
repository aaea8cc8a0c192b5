"""Each scenario for a few seconds against a Petrel started by the test; the JSON report has the
expected counts and the contract's top-level shape (DESIGN §10)."""
from __future__ import annotations

import resource

from conftest import check_shape


def test_echo_closed_loop_counts_and_verifies(petrel_server, run_loadtest):
    srv = petrel_server()
    rc, report, out, err = run_loadtest("echo", "-c", "20", "-k", "2", "-d", "2s", srv.url)
    assert rc == 0, err
    check_shape(report)
    assert report["scenario"] == "echo"
    t = report["totals"]
    assert t["errors"] == 0, t["errors_by_kind"]
    assert "payload_mismatch" not in t["errors_by_kind"]
    assert t["messages"] > 1000
    assert t["connections_opened"] == 20 and t["open_at_end"] == 20
    assert 0 < report["latency_us"]["p50"] <= report["latency_us"]["p99"] <= report["latency_us"]["max"]
    assert report["throughput_per_s"] > 500
    assert [p["phase"] for p in report["series"]].count("measure") >= 2
    assert "p99.9" in out and "messages" in out


def test_echo_open_loop_holds_the_rate(petrel_server, run_loadtest):
    srv = petrel_server()
    rc, report, _, err = run_loadtest("echo", "-c", "10", "--rate", "2000", "-d", "2s", srv.url)
    assert rc == 0, err
    check_shape(report)
    assert report["params"]["corrected_for_coordinated_omission"] is True
    assert report["totals"]["errors"] == 0
    assert 1700 <= report["throughput_per_s"] <= 2300, report["throughput_per_s"]


def test_echo_binary_large_messages_on_two_threads(petrel_server, run_loadtest):
    srv = petrel_server(threads=2)
    rc, report, _, err = run_loadtest("echo", "-c", "8", "-t", "2", "--binary", "--size", "20000", "-d", "2s", srv.url)
    assert rc == 0, err
    assert report["params"]["threads"] == 2 and report["params"]["binary"] is True
    assert report["totals"]["errors"] == 0, report["totals"]["errors_by_kind"]
    assert report["totals"]["messages"] > 100


def test_connect_storm_counts_handshakes(petrel_server, run_loadtest):
    srv = petrel_server()
    rc, report, out, err = run_loadtest("connect", "-c", "10", "-d", "2s", srv.url)
    assert rc == 0, err
    check_shape(report)
    assert report["totals"]["errors"] == 0, report["totals"]["errors_by_kind"]
    assert report["totals"]["messages"] >= 200  # handshakes
    assert report["latency_us"]["p50"] > 0
    assert "handshakes" in out


def test_connect_at_a_fixed_rate(petrel_server, run_loadtest):
    srv = petrel_server()
    rc, report, _, err = run_loadtest("connect", "-c", "10", "--rate", "200", "-d", "2s", srv.url)
    assert rc == 0, err
    assert 300 <= report["totals"]["messages"] <= 460, report["totals"]["messages"]


def test_hold_keeps_connections_and_reports_server_memory(petrel_server, run_loadtest):
    srv = petrel_server()
    rc, report, out, err = run_loadtest("hold", "-c", "300", "--interval", "500ms", "-d", "2s",
                                        "--server-pid", str(srv.proc.pid), srv.url)
    assert rc == 0, err
    check_shape(report)
    t = report["totals"]
    assert t["errors"] == 0, t["errors_by_kind"]
    assert t["open_at_end"] == 300
    assert t["messages"] >= 600  # 300 connections × ~2 messages in 2 s
    assert t["server_rss_held_bytes"] > 0 and "server_bytes_per_connection" in t
    assert "per connection" in out


def test_hold_reports_drops_when_the_server_goes_away(petrel_server, run_loadtest):
    import threading
    srv = petrel_server()
    threading.Timer(1.5, srv.stop).start()
    rc, report, _, err = run_loadtest("hold", "-c", "50", "-d", "3s", srv.url)
    assert rc == 0, err
    kinds = report["totals"]["errors_by_kind"]
    # Petrel drains with close 1001 "Going away" (DESIGN §2).
    assert kinds.get("closed_1001", 0) + kinds.get("dropped", 0) == 50, kinds
    assert report["totals"]["open_at_end"] == 0


def test_http_keepalive_and_pipelining(petrel_server, run_loadtest):
    srv = petrel_server()
    rc, report, _, err = run_loadtest("http", "-c", "4", "--pipeline", "4", "-d", "2s",
                                      f"http://127.0.0.1:{srv.public_port}/health")
    assert rc == 0, err
    check_shape(report)
    assert report["totals"]["errors"] == 0, report["totals"]["errors_by_kind"]
    assert report["totals"]["messages"] > 1000
    assert report["totals"]["connections_opened"] == 4  # keep-alive: no reconnects


def test_http_error_statuses_are_counted_by_kind(petrel_server, run_loadtest):
    srv = petrel_server()
    rc, report, _, err = run_loadtest("http", "-c", "2", "-d", "1s",
                                      f"http://127.0.0.1:{srv.public_port}/no-such-route")
    assert rc == 0, err
    kinds = report["totals"]["errors_by_kind"]
    assert list(kinds) == ["http_404"], kinds
    assert report["totals"]["messages"] == 0


def test_source_addresses_are_spread(fake_server, run_loadtest):
    srv = fake_server("ok")
    rc, report, _, err = run_loadtest("echo", "-c", "12", "-d", "1s", "--source-addrs", "127.0.0.1-127.0.0.3", srv.url)
    assert rc == 0, err
    assert report["totals"]["errors"] == 0, report["totals"]["errors_by_kind"]
    assert srv.peers == {"127.0.0.1", "127.0.0.2", "127.0.0.3"}


def test_file_limit_caps_the_run_and_says_so(petrel_server, run_loadtest):
    srv = petrel_server()

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (200, 200))

    rc, report, out, err = run_loadtest("hold", "-c", "1000", "-d", "1s", srv.url, preexec_fn=low_limit)
    assert rc == 0, err
    assert report["totals"]["file_limit"] == 200
    assert report["params"]["connections"] < 200
    assert report["totals"]["open_at_end"] == report["params"]["connections"]
    assert any("open-file limit" in w for w in report["totals"]["warnings"])
    assert "open-file limit" in out


def test_progress_lines_and_self_cpu(petrel_server, run_loadtest):
    srv = petrel_server()
    rc, report, out, err = run_loadtest("echo", "-c", "5", "-d", "2s", srv.url)
    assert rc == 0
    lines = [ln for ln in err.splitlines() if "msg/s" in ln]
    assert len(lines) >= 2, err
    assert "p99" in lines[-1] and "open" in lines[-1]
    assert 0 <= report["totals"]["client_cpu_pct"] <= 100
    assert "client CPU" in out

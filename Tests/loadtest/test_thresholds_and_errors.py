"""Error accounting against deliberately broken servers, thresholds and usage errors."""
from __future__ import annotations

from conftest import check_shape
from fake_servers import refusing_port


def test_wrong_accept_key_is_bad_accept(fake_server, run_loadtest):
    srv = fake_server("bad_accept")
    rc, report, _, _ = run_loadtest("connect", "-c", "5", "-d", "1s", srv.url)
    assert rc == 0
    check_shape(report)
    kinds = report["totals"]["errors_by_kind"]
    assert list(kinds) == ["bad_accept"], kinds
    assert kinds["bad_accept"] >= 5
    assert report["totals"]["messages"] == 0


def test_http_status_on_upgrade_is_counted_by_status(fake_server, run_loadtest):
    srv = fake_server("status403")
    rc, report, _, _ = run_loadtest("connect", "-c", "3", "-d", "1s", srv.url)
    assert list(report["totals"]["errors_by_kind"]) == ["http_403"]


def test_corrupted_echo_is_a_payload_mismatch(fake_server, run_loadtest):
    srv = fake_server("corrupt")
    rc, report, _, _ = run_loadtest("echo", "-c", "4", "-d", "1s", srv.url)
    kinds = report["totals"]["errors_by_kind"]
    assert list(kinds) == ["payload_mismatch"], kinds
    assert kinds["payload_mismatch"] > 10
    assert report["totals"]["messages"] == 0


def test_correct_python_server_has_no_errors(fake_server, run_loadtest):
    srv = fake_server("ok")
    rc, report, _, err = run_loadtest("echo", "-c", "4", "--size", "300", "-d", "1s", srv.url)
    assert rc == 0, err
    assert report["totals"]["errors"] == 0, report["totals"]["errors_by_kind"]
    assert report["totals"]["messages"] > 10


def test_refused_connections(run_loadtest):
    port = refusing_port()
    rc, report, _, _ = run_loadtest("connect", "-c", "4", "-d", "1s", f"ws://127.0.0.1:{port}/")
    kinds = report["totals"]["errors_by_kind"]
    assert list(kinds) == ["refused"], kinds
    assert kinds["refused"] >= 4


def test_refused_while_opening_echo(run_loadtest):
    port = refusing_port()
    rc, report, _, _ = run_loadtest("echo", "-c", "6", "-d", "1s", f"ws://127.0.0.1:{port}/")
    assert report["totals"]["errors_by_kind"] == {"refused": 6}
    assert report["totals"]["open_at_end"] == 0


def test_handshake_timeout(fake_server, run_loadtest):
    srv = fake_server("silent")
    rc, report, _, _ = run_loadtest("hold", "-c", "3", "--timeout", "500ms", "-d", "1s", srv.url)
    assert report["totals"]["errors_by_kind"] == {"timeout": 3}


def test_dropped_and_server_closed_connections(fake_server, run_loadtest):
    drop = fake_server("drop")
    rc, report, _, _ = run_loadtest("echo", "-c", "3", "-d", "1s", drop.url)
    assert report["totals"]["errors_by_kind"] == {"dropped": 3}
    closing = fake_server("close1011")
    rc, report, _, _ = run_loadtest("echo", "-c", "3", "-d", "1s", closing.url)
    assert report["totals"]["errors_by_kind"] == {"closed_1011": 3}


def test_max_error_rate_fails_the_run(fake_server, run_loadtest):
    srv = fake_server("corrupt")
    rc, _, _, err = run_loadtest("echo", "-c", "2", "-d", "1s", "--max-error-rate", "1%", srv.url)
    assert rc == 1
    assert "threshold failed" in err and "error rate" in err


def test_max_p99_fails_and_passes(petrel_server, run_loadtest):
    srv = petrel_server()
    rc, _, _, err = run_loadtest("echo", "-c", "2", "-d", "1s", "--max-p99", "1us", srv.url)
    assert rc == 1 and "p99" in err
    rc, _, _, err = run_loadtest("echo", "-c", "2", "-d", "1s", "--max-p99", "5s", "--max-error-rate", "0", srv.url)
    assert rc == 0, err


def test_usage_errors_exit_2(run_loadtest):
    for args in (["nosuch", "ws://127.0.0.1:1/"], ["echo", "ftp://x/"], ["echo", "-d", "ten", "ws://127.0.0.1:1/"],
                 ["http", "ws://127.0.0.1:1/"], ["fanout", "ws://127.0.0.1:1/"]):
        rc, report, _, err = run_loadtest(*args, json_report=False)
        assert rc == 2, (args, err)
        assert err.startswith("petrel-loadtest: ") and len(err.strip().splitlines()) == 1, err

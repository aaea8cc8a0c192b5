"""chat: R rooms × U users; each message goes through a route to a backend that broadcasts it to
the room through Petrel's groups API; latency is measured from the sender's timestamp to every other
member (DESIGN §6, §10). The backend is Benchmarks/chat-backend.py, run in-process."""
from __future__ import annotations

import importlib.util
import threading
from http.server import ThreadingHTTPServer

import pytest

from conftest import check_shape
from petrel_harness import REPO

spec = importlib.util.spec_from_file_location("chat_backend", REPO / "Benchmarks" / "chat-backend.py")
chat_backend = importlib.util.module_from_spec(spec)
spec.loader.exec_module(chat_backend)

TOKEN = "chat-lt-token"


@pytest.fixture
def chat_setup(petrel_server):
    """A chat backend on a free port, and a Petrel whose join/sendmessage routes call it."""
    admin = chat_backend.Admin("http://127.0.0.1:1", TOKEN)
    backend = ThreadingHTTPServer(("127.0.0.1", 0), chat_backend.make_handler(admin))
    backend.daemon_threads = True
    thread = threading.Thread(target=backend.serve_forever, daemon=True)
    thread.start()
    srv = petrel_server(f"""
        listeners:
          admin: {{address: 127.0.0.1:0, auth: {{bearer_tokens: [{TOKEN}]}}}}
        websocket:
          route_selection: $request.body.action
          routes:
            join: {{integration: chat, respond: true}}
            sendmessage: {{integration: chat}}
            talk: {{integration: chat}}
        integrations:
          chat: {{type: http, url: "http://127.0.0.1:{backend.server_address[1]}/", timeout: 10s}}
        """, threads=1)
    admin.port = srv.admin_port
    yield srv, admin
    backend.shutdown()
    backend.server_close()


def test_chat_counts_every_delivery(chat_setup, run_loadtest):
    srv, admin = chat_setup
    rooms, users = 3, 4
    rc, report, out, err = run_loadtest("chat", "--rooms", str(rooms), "--users-per-room", str(users),
                                        "--rate", "60", "-d", "3s", "-s", "64", srv.url)
    assert rc == 0, err
    check_shape(report)
    assert report["scenario"] == "chat"
    p, t = report["params"], report["totals"]
    assert (p["rooms"], p["users_per_room"], p["connections"], p["route"]) == (rooms, users, rooms * users, "sendmessage")
    assert p["rate_per_user"] == 5
    assert t["errors"] == 0, t["errors_by_kind"]
    assert 160 <= t["sent"] <= 200, t["sent"]  # 60 messages/s for 3 s
    # every send reaches the other U-1 members; deliveries in flight when the window ends are
    # waited for (and counted), not taken for losses
    assert t["deliveries_expected"] == t["sent"] * (users - 1)
    assert t["messages"] == t["deliveries_expected"], t
    assert t["in_flight_at_end"] == 0
    lat = report["latency_us"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p999"] <= lat["max"]
    assert admin.errors == 0
    assert "deliveries" in out and "expected" in out


def test_chat_with_another_route_key(chat_setup, run_loadtest):
    srv, _ = chat_setup
    rc, report, _, err = run_loadtest("chat", "--rooms", "1", "--users-per-room", "3", "--route", "talk",
                                      "--rate", "30", "-d", "2s", srv.url)
    assert rc == 0, err
    t = report["totals"]
    assert t["errors"] == 0, t["errors_by_kind"]
    assert t["messages"] == t["deliveries_expected"] > 0


def test_chat_counts_losses_when_the_backend_drops_messages(chat_setup, run_loadtest, monkeypatch):
    """Every third broadcast is dropped by the backend: the receivers see gaps and count them."""
    srv, admin = chat_setup
    real_call, count, lock = admin.call, [0], threading.Lock()

    def lossy(method, path, body=b""):
        if method == "POST":
            with lock:
                count[0] += 1
                if count[0] % 3 == 0:
                    return 200
        return real_call(method, path, body)

    monkeypatch.setattr(admin, "call", lossy)
    rc, report, _, err = run_loadtest("chat", "--rooms", "2", "--users-per-room", "3", "--rate", "60",
                                      "-d", "3s", "--timeout", "2s", "--max-error-rate", "1%", srv.url)
    t = report["totals"]
    assert rc == 1, (t, count, err)
    lost = t["errors_by_kind"].get("lost", 0)
    assert set(t["errors_by_kind"]) == {"lost"}, t["errors_by_kind"]
    # a third of the posts (some senders lose everything, which only the final count reveals)
    assert 0.25 * t["deliveries_expected"] <= lost <= 0.42 * t["deliveries_expected"], t
    assert t["messages"] + lost == t["deliveries_expected"], t


def test_chat_flags_are_checked(run_loadtest):
    rc, _, _, err = run_loadtest("chat", "--users-per-room", "1", "ws://127.0.0.1:9/", json_report=False)
    assert rc == 2 and "users-per-room" in err, err

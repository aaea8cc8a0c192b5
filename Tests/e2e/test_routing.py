"""Route selection, mock integrations with $context substitution, $default and Forbidden."""
from __future__ import annotations

import base64
import json
import re

import pytest

from petrel_harness import ws_connect

pytestmark = pytest.mark.timeout(30)

ROUTES = """\
websocket:
  route_selection: $request.body.action
  routes:
{default}    whoami: {{integration: whoami, respond: true}}
    rk: {{integration: rk, respond: true}}
    rid: {{integration: rid, respond: true}}
    silent: {{integration: whoami}}
integrations:
  echo: {{type: mock, mode: echo}}
  whoami: {{type: mock, status: 200, body: '{{"connectionId":"${{context.connectionId}}"}}'}}
  rk: {{type: mock, status: 200, body: '{{"routeKey":"${{context.routeKey}}","stage":"${{context.stage}}"}}'}}
  rid: {{type: mock, status: 200, body: '{{"requestId":"${{context.requestId}}"}}'}}
"""

WITH_DEFAULT = ROUTES.format(default="    $default: {integration: echo}\n")
WITHOUT_DEFAULT = ROUTES.format(default="")

ID_RE = re.compile(r"[A-Za-z0-9_-]{16}")


def whoami(ws) -> str:
    ws.send(json.dumps({"action": "whoami"}))
    return json.loads(ws.recv(timeout=5))["connectionId"]


def test_whoami_returns_connection_id_shape(petrel_server):
    srv = petrel_server(WITH_DEFAULT)
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
    assert ID_RE.fullmatch(cid), f"connection id {cid!r} is not 16 base64url chars"
    assert "=" not in cid
    assert len(base64.urlsafe_b64decode(cid)) == 12


def test_two_connections_get_different_ids(petrel_server):
    srv = petrel_server(WITH_DEFAULT)
    with ws_connect(srv.url) as a, ws_connect(srv.url) as b:
        ida, idb = whoami(a), whoami(b)
    assert ida != idb


def test_connection_id_stable_within_connection(petrel_server):
    srv = petrel_server(WITH_DEFAULT)
    with ws_connect(srv.url) as ws:
        assert whoami(ws) == whoami(ws)


def test_route_key_substitution(petrel_server):
    srv = petrel_server(WITH_DEFAULT)
    with ws_connect(srv.url) as ws:
        ws.send('{"action":"rk"}')
        body = json.loads(ws.recv(timeout=5))
    assert body["routeKey"] == "rk"


def test_stage_substitution_defaults_to_dollar_default(petrel_server):
    srv = petrel_server(WITH_DEFAULT)
    with ws_connect(srv.url) as ws:
        ws.send('{"action":"rk"}')
        body = json.loads(ws.recv(timeout=5))
    assert body["stage"] == "$default"


def test_request_ids_differ_per_message(petrel_server):
    srv = petrel_server(WITH_DEFAULT)
    with ws_connect(srv.url) as ws:
        ids = []
        for _ in range(2):
            ws.send('{"action":"rid"}')
            ids.append(json.loads(ws.recv(timeout=5))["requestId"])
    assert ids[0] and ids[1] and ids[0] != ids[1]


def test_non_json_goes_to_default(petrel_server):
    srv = petrel_server(WITH_DEFAULT)
    with ws_connect(srv.url) as ws:
        ws.send("not json {action: whoami}")
        assert ws.recv(timeout=5) == "not json {action: whoami}"


def test_unknown_action_goes_to_default(petrel_server):
    srv = petrel_server(WITH_DEFAULT)
    with ws_connect(srv.url) as ws:
        msg = '{"action":"nosuchroute","x":1}'
        ws.send(msg)
        assert ws.recv(timeout=5) == msg


def test_missing_action_key_goes_to_default(petrel_server):
    srv = petrel_server(WITH_DEFAULT)
    with ws_connect(srv.url) as ws:
        ws.send('{"other":"whoami"}')
        assert ws.recv(timeout=5) == '{"other":"whoami"}'


def test_binary_message_routed_like_text(petrel_server):
    srv = petrel_server(WITH_DEFAULT)
    with ws_connect(srv.url) as ws:
        ws.send(b'{"action":"rk"}')
        got = ws.recv(timeout=5)
    body = json.loads(got)
    assert body["routeKey"] == "rk"


def test_route_without_respond_sends_nothing(petrel_server):
    srv = petrel_server(WITH_DEFAULT)
    with ws_connect(srv.url) as ws:
        ws.send('{"action":"silent"}')
        ws.send("marker")
        assert ws.recv(timeout=5) == "marker"  # the first thing back is the echo of the marker


def test_no_default_route_gets_forbidden_json(petrel_server):
    srv = petrel_server(WITHOUT_DEFAULT)
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        ws.send('{"action":"nosuchroute"}')
        got = ws.recv(timeout=5)
    assert isinstance(got, str), "Forbidden must be a text frame"
    body = json.loads(got)
    assert set(body) == {"message", "connectionId", "requestId"}, body
    assert body["message"] == "Forbidden"
    assert body["connectionId"] == cid
    assert isinstance(body["requestId"], str) and body["requestId"]


def test_no_default_route_connection_stays_open(petrel_server):
    srv = petrel_server(WITHOUT_DEFAULT)
    with ws_connect(srv.url) as ws:
        ws.send("not json at all")
        json.loads(ws.recv(timeout=5))
        cid = whoami(ws)  # still routed after the Forbidden
    assert ID_RE.fullmatch(cid)

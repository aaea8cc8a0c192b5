"""The `@connections` management API on the admin listener, black-box, with boto3's
`apigatewaymanagementapi` client (SigV4) and curl-style bearer requests (DESIGN §6,
reference/api-gateway-facts.md §2): post/get/delete, error types, auth, stage prefix, encodings,
cross-loop delivery, groups, 410 during `$connect`, 429 on a full send buffer."""
from __future__ import annotations

import datetime
import json
import os
import re
import socket
import threading
import time
import urllib.parse

import pytest

from backend import RecordingBackend, Reply
from petrel_harness import HttpReader, http_request, recv_close, tcp_connect, ws_connect

boto3 = pytest.importorskip("boto3")
from botocore.config import Config  # noqa: E402

pytestmark = [pytest.mark.timeout(60),
              pytest.mark.filterwarnings("ignore:connect\\(\\) must be used:DeprecationWarning")]

AK, SK = "AKIDPETRELTEST", "petrel-secret-key"
TOKEN = "t"
ID_RE = re.compile(r"[A-Za-z0-9_-]{16}")


def api_config(extra_ws: str = "", limits: str = "", routes: str = "", integrations: str = "") -> str:
    lim = f"  limits: {{{limits}}}\n" if limits else ""
    return (
        "stage: prod\n"
        "listeners:\n  admin:\n    address: 127.0.0.1:0\n"
        f"    auth: {{sigv4: [{{access_key_id: {AK}, secret_access_key: {SK}}}], bearer_tokens: [{TOKEN}]}}\n"
        "websocket:\n  route_selection: $request.body.action\n" + lim + extra_ws +
        "  routes:\n"
        "    $default: {integration: echo, respond: true}\n"
        "    whoami: {integration: whoami, respond: true}\n" + routes +
        "integrations:\n"
        "  echo: {type: mock, mode: echo}\n"
        "  whoami: {type: mock, status: 200, body: '{\"connectionId\":\"${context.connectionId}\"}'}\n"
        + integrations
    )


def mgmt(srv, stage: str | None = "/prod", key=AK, secret=SK):
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=f"http://127.0.0.1:{srv.admin_port}{stage or ''}",
        region_name="us-east-1", aws_access_key_id=key, aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=3, read_timeout=5))


def whoami(ws) -> str:
    ws.send(json.dumps({"action": "whoami"}))
    return json.loads(ws.recv(timeout=5))["connectionId"]


def bearer(srv, method, path, body=b"", token=TOKEN, headers=None):
    h = {} if token is None else {"Authorization": f"Bearer {token}"}
    h.update(headers or {})
    return http_request(srv.admin_port, method, path, headers=h, body=body)


def error_type(exc) -> str:
    return exc.response["Error"]["Code"]


@pytest.fixture
def srv(petrel_server):
    return petrel_server(api_config())


# ------------------------------------------------------------------------------------------------
# boto3: post / get / delete
# ------------------------------------------------------------------------------------------------

def test_boto3_post_text(srv):
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        mgmt(srv).post_to_connection(ConnectionId=cid, Data=b'{"hello":"w\xc3\xb6rld"}')
        msg = ws.recv(timeout=5)
    assert msg == '{"hello":"wörld"}'


def test_boto3_post_binary(srv):
    data = b"\xff\xfe\x00\x01binary"
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        mgmt(srv).post_to_connection(ConnectionId=cid, Data=data)
        msg = ws.recv(timeout=5)
    assert isinstance(msg, bytes), f"invalid UTF-8 must arrive as a binary message, got {msg!r}"
    assert msg == data


def test_boto3_get_connection(srv):
    with ws_connect(srv.url, user_agent_header="petrel-e2e-ua/3") as ws:
        before = datetime.datetime.now(datetime.timezone.utc)
        cid = whoami(ws)
        ws.send("touch")
        ws.recv(timeout=5)
        r = mgmt(srv).get_connection(ConnectionId=cid)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert r["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": "petrel-e2e-ua/3"}
    connected, last = r["ConnectedAt"], r["LastActiveAt"]
    assert isinstance(connected, datetime.datetime) and connected.tzinfo is not None
    assert isinstance(last, datetime.datetime) and last.tzinfo is not None
    assert abs((connected - before).total_seconds()) < 5
    assert last >= connected


def test_boto3_delete_connection_client_gets_1000(srv):
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        r = mgmt(srv).delete_connection(ConnectionId=cid)
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
        code, _ = recv_close(ws)
    assert code == 1000


def test_boto3_get_after_delete_is_gone(srv):
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        c = mgmt(srv)
        c.delete_connection(ConnectionId=cid)
        recv_close(ws)
    with pytest.raises(c.exceptions.GoneException):
        c.get_connection(ConnectionId=cid)


def test_boto3_gone_for_unknown_id(srv):
    c = mgmt(srv)
    with pytest.raises(c.exceptions.GoneException) as ei:
        c.post_to_connection(ConnectionId="AAAAAAAAAAAAAAAA", Data=b"x")
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410


@pytest.mark.parametrize("bad", ["not-an-id", "R1kmxc2VNjMCFIA=", "a/b+c=", "x" * 300])
def test_boto3_gone_for_malformed_id(srv, bad):
    c = mgmt(srv)
    with pytest.raises(c.exceptions.GoneException):
        c.post_to_connection(ConnectionId=bad, Data=b"x")


def test_boto3_forbidden_for_wrong_secret(srv):
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        c = mgmt(srv, secret="wrong-secret")
        with pytest.raises(c.exceptions.ForbiddenException) as ei:
            c.post_to_connection(ConnectionId=cid, Data=b"x")
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.5)  # nothing delivered
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_boto3_forbidden_for_unknown_key(srv):
    c = mgmt(srv, key="AKIDUNKNOWN")
    with pytest.raises(c.exceptions.ForbiddenException):
        c.get_connection(ConnectionId="AAAAAAAAAAAAAAAA")


def test_boto3_forbidden_before_gone(srv):
    """Auth first: a bad signature on an unknown id is 403, not 410."""
    c = mgmt(srv, secret="wrong-secret")
    with pytest.raises(c.exceptions.ForbiddenException):
        c.delete_connection(ConnectionId="AAAAAAAAAAAAAAAA")


def test_boto3_payload_too_large(srv):
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        c = mgmt(srv)
        with pytest.raises(c.exceptions.PayloadTooLargeException) as ei:
            c.post_to_connection(ConnectionId=cid, Data=b"a" * (128 * 1024 + 1))
        assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


def test_boto3_connection_usable_after_payload_too_large(srv):
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        c = mgmt(srv)
        with pytest.raises(c.exceptions.PayloadTooLargeException):
            c.post_to_connection(ConnectionId=cid, Data=b"a" * (200 * 1024))
        c.post_to_connection(ConnectionId=cid, Data=b"still here")
        assert ws.recv(timeout=5) == "still here"
        ws.send("echo me")
        assert ws.recv(timeout=5) == "echo me"


def test_boto3_post_exactly_128_kib(srv):
    data = b"b" * (128 * 1024)
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        mgmt(srv).post_to_connection(ConnectionId=cid, Data=data)
        assert ws.recv(timeout=5) == data.decode()


def test_boto3_without_stage_in_endpoint(srv):
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        c = mgmt(srv, stage=None)
        c.post_to_connection(ConnectionId=cid, Data=b"no stage")
        assert ws.recv(timeout=5) == "no stage"
        assert c.get_connection(ConnectionId=cid)["Identity"]["SourceIp"] == "127.0.0.1"
        c.delete_connection(ConnectionId=cid)
        assert recv_close(ws)[0] == 1000


def test_boto3_wrong_stage_is_not_found_or_forbidden(srv):
    """`/dev/@connections/..` is not this API's stage: it must not deliver."""
    from botocore.exceptions import ClientError
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        c = mgmt(srv, stage="/dev")
        with pytest.raises(ClientError) as ei:
            c.post_to_connection(ConnectionId=cid, Data=b"wrong stage")
        assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] in (403, 404)
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.5)


# ------------------------------------------------------------------------------------------------
# bearer, raw HTTP forms
# ------------------------------------------------------------------------------------------------

def test_bearer_post_200(srv):
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        r = bearer(srv, "POST", f"/prod/@connections/{cid}", b"via bearer")
        assert r.status == 200, r
        assert r.body == b""
        assert ws.recv(timeout=5) == "via bearer"


def test_bearer_wrong_token_403_with_error_type(srv):
    r = bearer(srv, "POST", "/prod/@connections/AAAAAAAAAAAAAAAA", b"x", token="wrong")
    assert r.status == 403
    assert r.header("x-amzn-ErrorType") == "ForbiddenException"
    assert "message" in json.loads(r.body)


def test_no_auth_header_403(srv):
    r = bearer(srv, "GET", "/@connections/AAAAAAAAAAAAAAAA", token=None)
    assert r.status == 403
    assert r.header("x-amzn-ErrorType") == "ForbiddenException"


def test_no_auth_on_list_403(srv):
    r = bearer(srv, "GET", "/@connections", token=None)
    assert r.status == 403


def test_healthz_and_readyz_without_auth(srv):
    assert bearer(srv, "GET", "/healthz", token=None).status == 200
    assert bearer(srv, "GET", "/readyz", token=None).status == 200


def test_gone_error_type_header_and_body(srv):
    r = bearer(srv, "GET", "/prod/@connections/AAAAAAAAAAAAAAAA")
    assert r.status == 410
    assert r.header("x-amzn-ErrorType") == "GoneException"
    assert isinstance(json.loads(r.body).get("message"), str)


def test_percent_encoded_at_sign(srv):
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        r = bearer(srv, "POST", f"/prod/%40connections/{cid}", b"pct-at")
        assert r.status == 200, r
        assert ws.recv(timeout=5) == "pct-at"


def test_percent_encoded_id_is_decoded(srv):
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        enc = "".join(f"%{ord(ch):02X}" for ch in cid)  # every character percent-encoded
        r = bearer(srv, "GET", f"/@connections/{enc}")
        assert r.status == 200, r
        assert json.loads(r.body)["identity"]["sourceIp"] == "127.0.0.1"


def test_percent_3d_suffix_names_another_id(srv):
    """`%3D` decodes to `=`: `ID%3D` is not the live id `ID` (410, not 200)."""
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        assert bearer(srv, "GET", f"/@connections/{cid}%3D").status == 410


def test_get_connection_wire_format(srv):
    with ws_connect(srv.url, user_agent_header="wire/1") as ws:
        cid = whoami(ws)
        r = bearer(srv, "GET", f"/prod/@connections/{cid}")
    assert r.status == 200
    body = json.loads(r.body)
    assert set(body) == {"connectedAt", "identity", "lastActiveAt"}
    assert body["identity"] == {"sourceIp": "127.0.0.1", "userAgent": "wire/1"}
    iso = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z")
    assert iso.fullmatch(body["connectedAt"]) and iso.fullmatch(body["lastActiveAt"]), body


def test_delete_with_code_and_reason(srv):
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        r = bearer(srv, "DELETE", f"/@connections/{cid}?code=4000&reason=kicked%20out")
        assert r.status == 204, r
        assert recv_close(ws) == (4000, "kicked out")


def test_list_connections(srv):
    with ws_connect(srv.url) as a, ws_connect(srv.url) as b:
        ids = {whoami(a), whoami(b)}
        r = bearer(srv, "GET", "/@connections")
    assert r.status == 200
    body = json.loads(r.body)
    assert body["count"] == 2
    assert set(body["connectionIds"]) == ids


# ------------------------------------------------------------------------------------------------
# cross-loop delivery and groups
# ------------------------------------------------------------------------------------------------

def test_posts_reach_20_clients_across_two_loops(petrel_server):
    srv = petrel_server(api_config(), threads=2)
    clients = [ws_connect(srv.url) for _ in range(20)]
    try:
        ids = [whoami(ws) for ws in clients]
        c = mgmt(srv)
        for i, cid in enumerate(ids):
            c.post_to_connection(ConnectionId=cid, Data=f"for-{i}".encode())
        got = [ws.recv(timeout=5) for ws in clients]
    finally:
        for ws in clients:
            ws.close()
    assert got == [f"for-{i}" for i in range(20)]


def test_group_post_delivers_once_to_each_member(petrel_server):
    srv = petrel_server(api_config(), threads=2)
    members = [ws_connect(srv.url) for _ in range(10)]
    outsider = ws_connect(srv.url)
    try:
        ids = [whoami(ws) for ws in members]
        whoami(outsider)
        for cid in ids:
            r = bearer(srv, "PUT", f"/@connections/{cid}/groups/room")
            assert r.status in (200, 204), r
        r = bearer(srv, "POST", "/@groups/room", b"to the room")
        assert r.status == 200, r
        for ws in members:
            assert ws.recv(timeout=5) == "to the room"
        for ws in members + [outsider]:
            with pytest.raises(TimeoutError):
                ws.recv(timeout=0.3)  # once, and not to non-members
    finally:
        for ws in members + [outsider]:
            ws.close()


def test_group_lists_members(petrel_server):
    srv = petrel_server(api_config(), threads=2)
    clients = [ws_connect(srv.url) for _ in range(3)]
    try:
        ids = [whoami(ws) for ws in clients]
        for cid in ids:
            assert bearer(srv, "PUT", f"/prod/@connections/{cid}/groups/room").status in (200, 204)
        r = bearer(srv, "GET", "/prod/@groups/room")
        assert r.status == 200
        assert set(json.loads(r.body)["connectionIds"]) == set(ids)
    finally:
        for ws in clients:
            ws.close()


def test_group_leave(srv):
    with ws_connect(srv.url) as a, ws_connect(srv.url) as b:
        ia, ib = whoami(a), whoami(b)
        for cid in (ia, ib):
            bearer(srv, "PUT", f"/@connections/{cid}/groups/room")
        assert bearer(srv, "DELETE", f"/@connections/{ia}/groups/room").status in (200, 204)
        bearer(srv, "POST", "/@groups/room", b"after leave")
        assert b.recv(timeout=5) == "after leave"
        with pytest.raises(TimeoutError):
            a.recv(timeout=0.5)


def test_disconnected_client_leaves_group(petrel_server):
    srv = petrel_server(api_config(), threads=2)
    a, b, c = (ws_connect(srv.url) for _ in range(3))
    try:
        ids = [whoami(ws) for ws in (a, b, c)]
        for cid in ids:
            bearer(srv, "PUT", f"/@connections/{cid}/groups/room")
        b.close()
        deadline = time.monotonic() + 3
        listed = None
        while time.monotonic() < deadline:
            listed = set(json.loads(bearer(srv, "GET", "/@groups/room").body)["connectionIds"])
            if ids[1] not in listed:
                break
            time.sleep(0.1)
        assert listed == {ids[0], ids[2]}
    finally:
        a.close()
        c.close()


def test_group_join_unknown_connection_is_gone(srv):
    r = bearer(srv, "PUT", "/@connections/AAAAAAAAAAAAAAAA/groups/room")
    assert r.status == 410
    assert r.header("x-amzn-ErrorType") == "GoneException"


def test_group_post_needs_auth(srv):
    r = bearer(srv, "POST", "/@groups/room", b"x", token=None)
    assert r.status == 403


# ------------------------------------------------------------------------------------------------
# 410 during $connect, 429 on a full send buffer
# ------------------------------------------------------------------------------------------------

def test_post_during_connect_is_gone(petrel_server):
    seen = {}
    holder = {}

    def policy(ev):
        rc = ev.get("requestContext", {}) if isinstance(ev, dict) else {}
        if rc.get("eventType") == "CONNECT":
            cid = rc["connectionId"]
            r = http_request(holder["srv"].admin_port, "POST", f"/prod/@connections/{cid}",
                             headers={"Authorization": f"Bearer {TOKEN}"}, body=b"too early")
            seen["status"], seen["type"] = r.status, r.header("x-amzn-ErrorType")
            seen["cid"] = cid
        return Reply(200, b"")

    be = RecordingBackend(policy=policy)
    try:
        srv = petrel_server(api_config(
            routes="    $connect: {integration: backend}\n",
            integrations=f"  backend: {{type: http, url: \"{be.url}\", timeout: 5s}}\n"))
        holder["srv"] = srv
        with ws_connect(srv.url) as ws:
            cid = whoami(ws)
            assert seen.get("cid") == cid
            assert (seen["status"], seen["type"]) == (410, "GoneException")
            with pytest.raises(TimeoutError):
                ws.recv(timeout=0.5)  # the early post was not delivered
            # once $connect has answered, posts work
            assert bearer(srv, "POST", f"/@connections/{cid}", b"now").status == 200
            assert ws.recv(timeout=5) == "now"
    finally:
        srv.stop() if "srv" in holder else None
        be.close()


def test_full_send_buffer_answers_429(petrel_server):
    srv = petrel_server(api_config(limits="send_buffer_bytes: 65536"))
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # tiny window, and never read
    s.settimeout(5)
    s.connect(("127.0.0.1", srv.public_port))
    s.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{srv.public_port}\r\nUpgrade: websocket\r\n"
              "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
              "Sec-WebSocket-Version: 13\r\n\r\n".encode())
    head = HttpReader(s).read_response(timeout=5)
    assert head.status == 101
    cid = json.loads(bearer(srv, "GET", "/@connections").body)["connectionIds"][0]
    statuses = []
    try:
        for _ in range(200):
            r = bearer(srv, "POST", f"/@connections/{cid}", b"z" * 65536)
            statuses.append((r.status, r.header("x-amzn-ErrorType")))
            if r.status != 200:
                break
    finally:
        s.close()
    non_ok = [st for st in statuses if st[0] != 200]
    assert non_ok, f"{len(statuses)} posts of 64 KiB to a client that never reads all answered 200"
    assert non_ok[0] == (429, "LimitExceededException"), statuses[-3:]

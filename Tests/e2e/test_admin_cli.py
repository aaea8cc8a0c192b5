"""`petrel admin post|get|delete|groups|stats` (issue 8) against a running gateway, once with a
bearer token and once with SigV4 keys: real WebSocket clients see what the commands do; outputs
and exit codes are checked (0 success, 1 an error answer or no answer, 2 a usage error)."""
from __future__ import annotations

import json
import subprocess

import pytest

from petrel_harness import recv_close, ws_connect

TOKEN = "cli-token"
AK, SK = "AKIDCLI", "cli-secret"

AUTH = {
    "bearer": (f"{{bearer_tokens: [{TOKEN}]}}", ["--token", TOKEN], ["--token", "not-the-token"]),
    "sigv4": (f"{{sigv4: [{{access_key_id: {AK}, secret_access_key: {SK}}}]}}",
              ["--access-key", AK, "--secret-key", SK, "--region", "eu-west-1"],
              ["--access-key", AK, "--secret-key", "wrong"]),
}


def config(auth: str) -> str:
    return (
        "stage: prod\n"
        f"listeners:\n  admin:\n    address: 127.0.0.1:0\n    auth: {auth}\n"
        "websocket:\n  route_selection: $request.body.action\n"
        "  routes:\n"
        "    $default: {integration: echo, respond: true}\n"
        "    whoami: {integration: whoami, respond: true}\n"
        "integrations:\n"
        "  echo: {type: mock, mode: echo}\n"
        "  whoami: {type: mock, status: 200, body: '{\"connectionId\":\"${context.connectionId}\"}'}\n"
    )


def whoami(ws) -> str:
    ws.send(json.dumps({"action": "whoami"}))
    return json.loads(ws.recv(timeout=5))["connectionId"]


class Cli:
    def __init__(self, binary: str, admin_url: str, auth: list[str]):
        self.binary, self.admin_url, self.auth = binary, admin_url, auth

    def __call__(self, *args: str, ids: tuple[str, ...] = (), auth: list[str] | None = None, stdin: bytes | None = None):
        # Connection ids are positional and go last, after `--`: one in 64 begins with '-',
        # which would otherwise read as an option.
        tail = ["--", *ids] if ids else []
        r = subprocess.run([self.binary, "admin", *args, "--admin", self.admin_url, *(self.auth if auth is None else auth), *tail],
                           input=stdin, capture_output=True, timeout=20)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    def ok(self, *args: str, **kw) -> str:
        rc, out, err = self(*args, **kw)
        assert rc == 0, f"petrel admin {' '.join(args)} {kw.get('ids', '')}: exit {rc}, stderr {err!r}"
        assert err == "", err
        return out


@pytest.fixture(params=sorted(AUTH))
def setup(request, petrel_server, petrel_bin):
    auth_yaml, good, bad = AUTH[request.param]
    srv = petrel_server(config(auth_yaml))
    # With the stage in the URL, as boto3 users configure the endpoint.
    return srv, Cli(petrel_bin, f"http://127.0.0.1:{srv.admin_port}/prod", good), bad


def test_post_get_delete(setup, tmp_path):
    srv, cli, _ = setup
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        assert cli.ok("post", "--data", "hello from the cli", ids=(cid,)) == ""
        assert ws.recv(timeout=5) == "hello from the cli"
        data = tmp_path / "message.bin"
        data.write_bytes(b"\x00\xffbinary")
        cli.ok("post", "--file", str(data), ids=(cid,))
        assert ws.recv(timeout=5) == b"\x00\xffbinary"
        cli.ok("post", "--file", "-", ids=(cid,), stdin=b"from stdin")
        assert ws.recv(timeout=5) == "from stdin"

        info = json.loads(cli.ok("get", ids=(cid,)))
        assert set(info) == {"connectedAt", "identity", "lastActiveAt"}, info
        assert info["identity"]["sourceIp"] == "127.0.0.1", info

        assert cli.ok("delete", "--code", "4000", "--reason", "bye now", ids=(cid,)) == ""
        assert recv_close(ws) == (4000, "bye now")

    rc, out, err = cli("get", ids=(cid,))
    assert (rc, out) == (1, ""), (rc, out, err)
    assert err.strip() == "petrel: 410 GoneException: Gone", err


def test_groups(setup):
    srv, cli, _ = setup
    with ws_connect(srv.url) as a, ws_connect(srv.url) as b:
        ida, idb = whoami(a), whoami(b)
        assert cli.ok("groups", "list", ids=("room 1",)) == ""
        cli.ok("groups", "add", ids=(ida, "room 1"))
        cli.ok("groups", "add", ids=(idb, "room 1"))
        assert sorted(cli.ok("groups", "list", ids=("room 1",)).split()) == sorted([ida, idb])
        cli.ok("groups", "post", "--data", "to everyone", ids=("room 1",))
        assert a.recv(timeout=5) == "to everyone" and b.recv(timeout=5) == "to everyone"
        cli.ok("groups", "remove", ids=(ida, "room 1"))
        assert cli.ok("groups", "list", ids=("room 1",)).split() == [idb]
        cli.ok("groups", "post", "--data", "only b", ids=("room 1",))
        assert b.recv(timeout=5) == "only b"
        with pytest.raises(TimeoutError):
            a.recv(timeout=0.5)


def test_stats(setup):
    srv, cli, _ = setup
    with ws_connect(srv.url) as a, ws_connect(srv.url) as b:
        for ws in (a, b):
            ws.send("ping")
            assert ws.recv(timeout=5) == "ping"
        cli.ok("post", "--data", "x", ids=(whoami(a),))
        snapshot = json.loads(cli.ok("stats", "--json"))
        assert snapshot["connectionsOpen"] == 2 and snapshot["connects"] == 2, snapshot
        assert snapshot["posts"] == 1 and snapshot["node"]["ready"] is True, snapshot
        text = cli.ok("stats")
        # "label              value": the label column is 19 characters wide.
        lines = {line[:19].strip(): line[19:].strip() for line in text.splitlines()}
        assert lines["connections open"] == "2", text
        assert lines["connects"] == "2 (disconnects 0)", text
        assert lines["@connections posts"] == "1", text
        assert lines["node"].endswith("(ready, registry in-memory)"), text


def test_error_answers_and_usage_errors(setup):
    srv, cli, bad = setup
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        rc, out, err = cli("post", "--data", "x", ids=(cid,), auth=bad)
        assert (rc, out) == (1, "") and err.strip() == "petrel: 403 ForbiddenException: Forbidden", (rc, err)
        rc, _, err = cli("delete", "--code", "999", ids=(cid,))
        assert rc == 1 and err.startswith("petrel: 400 BadRequestException: code must be"), (rc, err)
        # Nothing reached the client.
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.3)
    usage = [
        ("post", "AAAA"),                                   # no --data/--file
        ("post", "AAAA", "--data", "x", "--file", "f"),     # both
        ("get",),                                           # no id
        ("groups", "frob", "g"),                            # no such subcommand
    ]
    for args in usage:
        rc, out, err = cli(*args)
        assert rc == 2 and out == "" and err.startswith("petrel: ") and len(err.strip().splitlines()) == 1, (args, rc, err)
    rc, _, err = cli("stats", auth=["--access-key", AK])
    assert rc == 2 and "--secret-key" in err, err
    rc, _, err = cli("stats", auth=["--token", TOKEN, "--access-key", AK, "--secret-key", SK])
    assert rc == 2, err
    rc, _, err = Cli(cli.binary, "ftp://127.0.0.1", cli.auth)("stats")
    assert rc == 2 and err.startswith("petrel: --admin: expected http://"), err
    # Nobody listening: exit 1, one line saying so.
    rc, out, err = Cli(cli.binary, "http://127.0.0.1:1", cli.auth)("stats")
    assert rc == 1 and err.startswith("petrel: cannot reach http://127.0.0.1:1"), (rc, err)

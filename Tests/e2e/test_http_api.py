"""HTTP API routes (DESIGN §8, issue 7): routing, mock/http/http_proxy integrations, authorizers
(jwt, http, sigv4), throttling and API keys, request validation, CORS, keep-alive pipelining.

Real clients (raw sockets, http.client, botocore's SigV4 signer), real backends started here
(backend.RecordingBackend), PyJWT-minted tokens. Bodies and statuses are API Gateway's HTTP API
answers (facts §3).
"""
from __future__ import annotations

import base64
import http.client
import json
import re
import signal
import socket
import time

import jwt
import pytest

from backend import Close, RecordingBackend, Reply, free_port, proxy
from petrel_harness import HttpReader, http_request, tcp_connect

pytestmark = pytest.mark.timeout(60)

JWT_SECRET = "e2e-http-api-secret-of-enough-length"


def call(port, method, path, headers=None, body=b"", timeout=10.0):
    return http_request(port, method, path, headers=headers, body=body, timeout=timeout)


def msg(resp) -> dict:
    return json.loads(resp.body)


def token(**claims) -> str:
    base = {"iss": "https://issuer.test", "aud": "api", "sub": "user-1", "exp": int(time.time()) + 300}
    base.update(claims)
    return jwt.encode(base, JWT_SECRET, algorithm="HS256")


# ---------------------------------------------------------------------------------------------
# Routing
# ---------------------------------------------------------------------------------------------

ROUTING = """\
stage: prod
http:
  routes:
    "GET /pets/dog/{id}": {integration: which}
    "GET /pets/dog/1": {integration: which}
    "GET /pets/{proxy+}": {integration: which}
    "ANY /{proxy+}": {integration: which}
    "GET /pets": {integration: which}
    "ANY /orders/{id}": {integration: which}
    "GET /orders/{id}": {integration: which}
    "GET /": {integration: which}
integrations:
  which: {type: mock, status: 200, body: '${context.routeKey}', headers: {content-type: text/plain}}
"""

PRECEDENCE = [
    ("GET", "/pets/dog/2", "GET /pets/dog/{id}"),
    ("GET", "/pets/dog/1", "GET /pets/dog/1"),
    ("GET", "/pets/cat/1", "GET /pets/{proxy+}"),
    ("POST", "/test/5", "ANY /{proxy+}"),
    ("GET", "/pets", "GET /pets"),
    ("PUT", "/pets", "ANY /{proxy+}"),
    ("GET", "/orders/7", "GET /orders/{id}"),
    ("DELETE", "/orders/7", "ANY /orders/{id}"),
    ("GET", "/", "GET /"),
    ("GET", "/prod/pets/dog/2", "GET /pets/dog/{id}"),   # stage prefix stripped
    ("GET", "/prod", "GET /"),
]


def test_route_precedence_table(petrel_server):
    srv = petrel_server(ROUTING)
    for method, path, expected in PRECEDENCE:
        r = call(srv.public_port, method, path)
        assert r.status == 200, (method, path, r)
        assert r.body.decode() == expected, (method, path)
        assert r.header("apigw-requestid"), "API Gateway's request id header"


def test_no_route_is_404_not_found_never_405(petrel_server):
    srv = petrel_server("""\
http:
  routes: {"GET /pets": {integration: ok}}
integrations: {ok: {type: mock, status: 200}}
""")
    for method, path in [("POST", "/pets"), ("GET", "/nothing"), ("GET", "/pets/")]:
        r = call(srv.public_port, method, path)
        assert (r.status, r.body) == (404, b'{"message":"Not Found"}'), (method, path)


def test_bad_route_table_is_refused_at_start(petrel_bin, tmp_path):
    import subprocess
    cfg = tmp_path / "bad.yaml"
    cfg.write_text('http: {routes: {"GET /a/{x}": {integration: ok}, "GET /a/{y}": {integration: ok}}}\n'
                   'integrations: {ok: {type: mock}}\n')
    out = subprocess.run([petrel_bin, "check-config", str(cfg)], capture_output=True, text=True, timeout=20)
    assert out.returncode == 1
    assert "same method and path" in out.stdout


def test_sighup_swaps_the_route_table(petrel_server):
    srv = petrel_server("""\
http: {routes: {"GET /a": {integration: ok}}}
integrations: {ok: {type: mock, status: 200, body: one}}
""")
    assert call(srv.public_port, "GET", "/a").body == b"one"
    with open(srv.config_path, "w") as f:
        f.write('http: {routes: {"GET /b/{x}": {integration: ok}}}\n'
                'integrations: {ok: {type: mock, status: 200, body: two}}\n')
    start = len(srv.logs)
    srv.signal(signal.SIGHUP)
    assert srv.wait_log(lambda o: o.get("msg") == "config reloaded", start=start)
    assert call(srv.public_port, "GET", "/a").status == 404
    assert call(srv.public_port, "GET", "/b/1").body == b"two"


# ---------------------------------------------------------------------------------------------
# `http` integration: payload format 2.0
# ---------------------------------------------------------------------------------------------

def event_config(url, extra_routes="", timeout="") -> str:
    t = f", timeout: {timeout}" if timeout else ""
    return f"""\
stage: prod
api_id: e2eapi
http:
  routes:
    "POST /items/{{id}}": {{integration: fn}}
    "GET /items/{{id}}": {{integration: fn}}
{extra_routes}
integrations:
  fn: {{type: http, url: "{url}"{t}}}
"""


def test_http_event_v2_field_by_field(petrel_server):
    with RecordingBackend(lambda ev: proxy(201, "created", {"x-fn": "yes", "content-type": "text/plain"})) as be:
        srv = petrel_server(event_config(be.url))
        port = srv.public_port
        body = b'{"name":"widget"}'
        r = call(port, "POST", "/prod/items/a%20b?x=1&x=2&y=%C3%A9&flag", body=body, headers={
            "Content-Type": "application/json", "User-Agent": "e2e-agent/1.0", "X-Multi": "a",
            "Cookie": "c1=v1; c2=v2", "x-multi": "b"})
        assert r.status == 201 and r.body == b"created"
        assert r.header("x-fn") == "yes"
        ev = be.wait_for(lambda rec: True)[0].event
    assert ev["version"] == "2.0"
    assert ev["routeKey"] == "POST /items/{id}"
    assert ev["rawPath"] == "/prod/items/a%20b"
    assert ev["rawQueryString"] == "x=1&x=2&y=%C3%A9&flag"
    assert ev["cookies"] == ["c1=v1", "c2=v2"]
    h = ev["headers"]
    assert all(k == k.lower() for k in h), h
    assert "cookie" not in h
    assert h["x-multi"] == "a,b"
    assert h["content-type"] == "application/json"
    assert h["user-agent"] == "e2e-agent/1.0"
    assert ev["queryStringParameters"] == {"x": "1,2", "y": "é", "flag": ""}
    assert ev["pathParameters"] == {"id": "a b"}
    assert ev["body"] == body.decode() and ev["isBase64Encoded"] is False
    rc = ev["requestContext"]
    assert rc["apiId"] == "e2eapi"
    assert rc["accountId"]
    assert rc["domainName"] == "127.0.0.1" and rc["domainPrefix"] == "127"
    assert rc["http"] == {"method": "POST", "path": "/prod/items/a%20b", "protocol": "HTTP/1.1",
                          "sourceIp": "127.0.0.1", "userAgent": "e2e-agent/1.0"}
    assert rc["requestId"] == r.header("apigw-requestid")
    assert rc["routeKey"] == "POST /items/{id}"
    assert rc["stage"] == "prod"
    assert re.fullmatch(r"\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000", rc["time"]), rc["time"]
    assert abs(rc["timeEpoch"] - time.time() * 1000) < 10_000
    assert "authorizer" not in rc
    assert "stageVariables" not in ev and "multiValueHeaders" not in ev


def test_http_event_binary_body_and_proxy_response_features(petrel_server):
    answer = {"statusCode": 200, "headers": {"content-type": "application/octet-stream"},
              "cookies": ["a=1; Path=/", "b=2"], "body": base64.b64encode(b"\x00\x01\xff").decode(),
              "isBase64Encoded": True}
    with RecordingBackend(lambda ev: Reply(200, answer)) as be:
        srv = petrel_server(event_config(be.url))
        r = call(srv.public_port, "POST", "/items/1", body=b"\xff\xfe\x00",
                 headers={"Content-Type": "application/octet-stream"})
        ev = be.wait_for(lambda rec: True)[0].event
    assert ev["isBase64Encoded"] is True and base64.b64decode(ev["body"]) == b"\xff\xfe\x00"
    assert "queryStringParameters" not in ev and ev["rawQueryString"] == ""
    assert r.status == 200 and r.body == b"\x00\x01\xff"
    assert r.header_all("set-cookie") == ["a=1; Path=/", "b=2"]


def test_http_event_plain_json_answer_is_a_200_json_body(petrel_server):
    with RecordingBackend(lambda ev: Reply(200, {"hello": "world"})) as be:
        srv = petrel_server(event_config(be.url))
        r = call(srv.public_port, "GET", "/items/9")
    assert r.status == 200
    assert r.header("content-type") == "application/json"
    assert json.loads(r.body) == {"hello": "world"}


def test_http_event_backend_error_is_500(petrel_server):
    with RecordingBackend(lambda ev: Reply(500, "boom")) as be:
        srv = petrel_server(event_config(be.url))
        r = call(srv.public_port, "GET", "/items/9")
    assert (r.status, msg(r)) == (500, {"message": "Internal Server Error"})


def test_integration_timeout_is_503_service_unavailable(petrel_server):
    with RecordingBackend(lambda ev: Reply(200, "late", delay=3)) as be:
        srv = petrel_server(event_config(be.url, timeout="1s"))
        t0 = time.monotonic()
        r = call(srv.public_port, "GET", "/items/1")
        took = time.monotonic() - t0
    assert (r.status, msg(r)) == (503, {"message": "Service Unavailable"})
    assert 0.8 < took < 2.5, took


def test_unreachable_backend_is_502_internal_server_error(petrel_server):
    srv = petrel_server(event_config(f"http://127.0.0.1:{free_port()}/fn"))
    r = call(srv.public_port, "GET", "/items/1")
    assert (r.status, msg(r)) == (502, {"message": "Internal Server Error"})


def test_payload_over_10_mb_is_413(petrel_server):
    with RecordingBackend() as be:
        srv = petrel_server(event_config(be.url))
        with tcp_connect(srv.public_port) as s:
            s.sendall(f"POST /items/1 HTTP/1.1\r\nHost: x\r\nContent-Length: {10 * 1024 * 1024 + 1}\r\n\r\n".encode())
            r = HttpReader(s).read_response()
        assert r.status == 413
        ok = call(srv.public_port, "POST", "/items/1", body=b"x" * (10 * 1024 * 1024),
                  headers={"Content-Type": "text/plain"}, timeout=30)
        assert ok.status == 200


# ---------------------------------------------------------------------------------------------
# `http_proxy`
# ---------------------------------------------------------------------------------------------

def proxy_config(port) -> str:
    return f"""\
http:
  routes:
    "ANY /api/{{proxy+}}": {{integration: api}}
    "GET /users/{{id}}/posts/{{post}}": {{integration: user}}
    "$default": {{integration: rest}}
integrations:
  api: {{type: http_proxy, url: "http://127.0.0.1:{port}/base/{{proxy}}"}}
  user: {{type: http_proxy, url: "http://127.0.0.1:{port}/u/{{id}}?post={{post}}"}}
  rest: {{type: http_proxy, url: "http://127.0.0.1:{port}/root/"}}
"""


def test_http_proxy_forwards_method_path_query_headers_and_answer(petrel_server):
    with RecordingBackend(lambda ev: Reply(201, b"made", {"x-backend": "yes", "content-type": "text/plain"})) as be:
        srv = petrel_server(proxy_config(be.port))
        conn = http.client.HTTPConnection("127.0.0.1", srv.public_port, timeout=10)
        conn.request("PUT", "/api/a/b%2Fc?q=1&q=2", body=b"payload", headers={
            "X-Forwarded-For": "203.0.113.9", "Connection": "keep-alive, X-Hop", "X-Hop": "drop me",
            "Keep-Alive": "timeout=5", "TE": "trailers", "X-Keep": "kept"})
        r = conn.getresponse()
        assert r.status == 201 and r.read() == b"made"
        assert r.getheader("x-backend") == "yes"
        assert r.getheader("apigw-requestid")
        rec = be.wait_for(lambda rec: True)[0]
        conn.close()
    assert rec.path == "/base/a/b%2Fc?q=1&q=2"
    assert rec.raw == b"payload"
    h = rec.headers
    assert h["x-keep"] == "kept"
    assert h["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
    assert h["x-forwarded-proto"] == "http"
    assert h["x-forwarded-port"] == str(srv.public_port)
    assert h["host"] == f"127.0.0.1:{be.port}"
    for hop in ("x-hop", "keep-alive", "te"):
        assert hop not in h, hop


def test_http_proxy_parameters_and_default_full_path(petrel_server):
    with RecordingBackend(lambda ev: Reply(200, b"ok")) as be:
        srv = petrel_server(proxy_config(be.port))
        assert call(srv.public_port, "GET", "/users/42/posts/7").status == 200
        assert call(srv.public_port, "POST", "/some/where?z=1", body=b"x").status == 200
        paths = [rec.path for rec in be.wait_for(lambda rec: True, count=2)]
    assert paths == ["/u/42?post=7", "/root/some/where?z=1"]


def test_http_proxy_status_and_errors(petrel_server):
    with RecordingBackend(lambda ev: Reply(404, b'{"nope":1}', {"content-type": "application/json"})) as be:
        srv = petrel_server(proxy_config(be.port))
        r = call(srv.public_port, "GET", "/api/x")
        assert (r.status, r.body) == (404, b'{"nope":1}')
        be.policy = lambda ev: Close()
        r = call(srv.public_port, "GET", "/api/x")
        assert (r.status, msg(r)) == (502, {"message": "Internal Server Error"})
    r = call(srv.public_port, "GET", "/api/x")   # backend gone
    assert (r.status, msg(r)) == (502, {"message": "Internal Server Error"})


# ---------------------------------------------------------------------------------------------
# Authorizers
# ---------------------------------------------------------------------------------------------

def auth_config(backend_url, authorizer_url="http://127.0.0.1:1/") -> str:
    return f"""\
http:
  routes:
    "GET /open": {{integration: fn}}
    "GET /jwt": {{integration: fn, authorizer: jwt}}
    "GET /jwt/admin": {{integration: fn, authorizer: jwt, scopes: [admin, root]}}
    "GET /custom/{{id}}": {{integration: fn, authorizer: custom}}
    "POST /iam": {{integration: fn, authorizer: iam}}
    "POST /iam/only1": {{integration: fn, authorizer: iam, access_keys: [AKIDONE]}}
integrations:
  fn: {{type: http, url: "{backend_url}"}}
authorizers:
  jwt: {{type: jwt, issuer: "https://issuer.test", audiences: [api], secret: "{JWT_SECRET}"}}
  custom: {{type: http, url: "{authorizer_url}", cache_ttl: 5m, identity_source: ["$request.header.X-Token"]}}
  iam:
    type: sigv4
    keys:
      - {{access_key_id: AKIDONE, secret_access_key: secret-one}}
      - {{access_key_id: AKIDTWO, secret_access_key: secret-two}}
"""


def test_jwt_authorizer_outcomes(petrel_server):
    with RecordingBackend(lambda ev: proxy(200, "ok")) as be:
        srv = petrel_server(auth_config(be.url))
        port = srv.public_port
        r = call(port, "GET", "/jwt")
        assert (r.status, msg(r)) == (401, {"message": "Unauthorized"})
        assert r.header("www-authenticate").startswith("Bearer")
        r = call(port, "GET", "/jwt", headers={"Authorization": "Bearer " + token(exp=int(time.time()) - 60)})
        assert r.status == 401
        assert 'error="invalid_token"' in r.header("www-authenticate")
        r = call(port, "GET", "/jwt", headers={"Authorization": "Bearer " + token(aud="other")})
        assert r.status == 401
        r = call(port, "GET", "/jwt/admin", headers={"Authorization": "Bearer " + token(scope="read write")})
        assert (r.status, msg(r)) == (403, {"message": "Forbidden"})
        assert 'error="insufficient_scope"' in r.header("www-authenticate")
        assert be.snapshot() == [], "denied requests never reach the integration"
        r = call(port, "GET", "/jwt/admin", headers={"Authorization": "Bearer " + token(scp=["root"], n=5)})
        assert r.status == 200
        r = call(port, "GET", "/jwt", headers={"Authorization": token()})   # bare token works too
        assert r.status == 200
        ev = be.wait_for(lambda rec: True, count=2)[0].event
    claims = ev["requestContext"]["authorizer"]["jwt"]["claims"]
    assert claims["sub"] == "user-1" and claims["iss"] == "https://issuer.test"
    assert claims["n"] == "5", "API Gateway passes claims as strings"
    assert ev["requestContext"]["authorizer"]["jwt"]["scopes"] == ["root"]


def test_http_authorizer_with_cache_and_context(petrel_server):
    def decide(ev):
        tok = ev["headers"].get("x-token")
        assert ev["version"] == "2.0" and ev["type"] == "REQUEST"
        assert ev["identitySource"] == [tok]
        if tok == "good":
            return Reply(200, {"isAuthorized": True, "context": {"tenant": "t1", "level": 3}})
        if tok == "broken":
            return Reply(200, {"weird": True})
        return Reply(200, {"isAuthorized": False})

    with RecordingBackend(decide) as authz, RecordingBackend(lambda ev: proxy(200, "ok")) as be:
        srv = petrel_server(auth_config(be.url, authz.url))
        port = srv.public_port
        assert call(port, "GET", "/custom/1").status == 401       # no identity: not even asked
        assert authz.snapshot() == []
        for _ in range(3):
            r = call(port, "GET", "/custom/1", headers={"X-Token": "good"})
            assert r.status == 200
        r = call(port, "GET", "/custom/1", headers={"X-Token": "bad"})
        assert (r.status, msg(r)) == (403, {"message": "Forbidden"})
        r = call(port, "GET", "/custom/1", headers={"X-Token": "broken"})
        assert (r.status, msg(r)) == (500, {"message": "Internal Server Error"})
        ev = be.wait_for(lambda rec: True)[0].event
        asked = [rec.event["identitySource"][0] for rec in authz.snapshot()]
    # Two loops each keep their own cache: "good" is asked at most once per loop.
    assert 1 <= asked.count("good") <= 2, asked
    assert ev["requestContext"]["authorizer"] == {"lambda": {"tenant": "t1", "level": 3}}


def sign(port, method, path, body, key, secret, tamper=False):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    req = AWSRequest(method=method, url=f"http://127.0.0.1:{port}{path}", data=body,
                     headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(key, secret), "execute-api", "us-east-1").add_auth(req)
    headers = dict(req.headers.items())
    return call(port, method, path, headers=headers, body=body + (b"x" if tamper else b""))


def test_sigv4_authorizer(petrel_server):
    with RecordingBackend(lambda ev: proxy(200, "ok")) as be:
        srv = petrel_server(auth_config(be.url))
        port = srv.public_port
        assert sign(port, "POST", "/iam?a=1", b'{"x":1}', "AKIDONE", "secret-one").status == 200
        assert sign(port, "POST", "/iam", b"{}", "AKIDTWO", "secret-two").status == 200
        r = sign(port, "POST", "/iam", b"{}", "AKIDONE", "secret-one", tamper=True)
        assert (r.status, msg(r)) == (403, {"message": "Forbidden"})
        assert sign(port, "POST", "/iam", b"{}", "AKIDONE", "wrong-secret").status == 403
        assert sign(port, "POST", "/iam", b"{}", "AKIDNOPE", "secret-one").status == 403
        assert call(port, "POST", "/iam", body=b"{}").status == 403
        assert sign(port, "POST", "/iam/only1", b"{}", "AKIDTWO", "secret-two").status == 403
        assert sign(port, "POST", "/iam/only1", b"{}", "AKIDONE", "secret-one").status == 200
        ev = be.wait_for(lambda rec: True)[0].event
    assert ev["requestContext"]["authorizer"]["iam"]["accessKey"] == "AKIDONE"


# ---------------------------------------------------------------------------------------------
# Throttling and API keys (exact counts: buckets are node-wide and barely refill here)
# ---------------------------------------------------------------------------------------------

THROTTLE = """\
throttling: {rate: 0.01, burst: 8}
http:
  routes:
    "GET /slow": {integration: ok, throttle: {rate: 0.01, burst: 3}}
    "GET /keyed": {integration: ok, api_key_required: true}
    "GET /other": {integration: ok}
integrations: {ok: {type: mock, status: 200, body: ok}}
api_keys:
  plans:
    gold: {throttle: {rate: 0.01, burst: 2}}
    tiny: {quota: {limit: 2, period: day}}
  keys:
    - {id: g, value: gold-key-1, plan: gold}
    - {id: t, value: tiny-key-1, plan: tiny}
"""


def test_route_and_global_throttles_count_exactly(petrel_server):
    srv = petrel_server(THROTTLE)
    port = srv.public_port
    statuses = [call(port, "GET", "/slow").status for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    r = call(port, "GET", "/slow")
    assert (r.status, msg(r)) == (429, {"message": "Too Many Requests"})
    assert int(r.header("retry-after")) >= 1
    # 6 global tokens spent so far (throttled requests take global tokens first): 2 left.
    statuses = [call(port, "GET", "/other").status for _ in range(4)]
    assert statuses == [200, 200, 429, 429]


def test_api_keys_throttle_quota_and_forbidden(petrel_server):
    srv = petrel_server(THROTTLE.replace("{rate: 0.01, burst: 8}", "{rate: 1000, burst: 1000}"))
    port = srv.public_port
    r = call(port, "GET", "/keyed")
    assert (r.status, msg(r)) == (403, {"message": "Forbidden"})
    assert call(port, "GET", "/keyed", headers={"x-api-key": "nope"}).status == 403
    gold = [call(port, "GET", "/keyed", headers={"x-api-key": "gold-key-1"}).status for _ in range(3)]
    assert gold == [200, 200, 429]
    tiny = [call(port, "GET", "/keyed", headers={"x-api-key": "tiny-key-1"}) for _ in range(3)]
    assert [r.status for r in tiny] == [200, 200, 429]
    assert msg(tiny[2]) == {"message": "Limit Exceeded"}
    assert call(port, "GET", "/other").status == 200, "keys only on routes that require them"


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------

VALIDATION = """\
http:
  routes:
    "POST /orders":
      integration: ok
      validation:
        query: [tenant]
        headers: [x-request-source]
        body:
          type: object
          required: [id, qty]
          properties:
            id: {type: string, pattern: "^O-[0-9]+$", maxLength: 10}
            qty: {type: integer, minimum: 1, maximum: 5}
            kind: {enum: [retail, wholesale]}
integrations: {ok: {type: mock, status: 200, body: accepted}}
"""


def test_request_validation(petrel_server):
    srv = petrel_server(VALIDATION)
    port = srv.public_port
    good = b'{"id":"O-12","qty":2,"kind":"retail"}'
    hdr = {"X-Request-Source": "e2e", "Content-Type": "application/json"}
    r = call(port, "POST", "/orders", body=good)
    assert (r.status, msg(r)) == (400, {"message": "Missing required request parameters: [tenant, x-request-source]"})
    r = call(port, "POST", "/orders?tenant=a", body=good)
    assert msg(r) == {"message": "Missing required request parameters: [x-request-source]"}
    for bad in [b"", b"not json", b'{"id":"O-12"}', b'{"id":"X-1","qty":2}', b'{"id":"O-1","qty":9}',
                b'{"id":"O-1","qty":1.5}', b'{"id":"O-1","qty":1,"kind":"other"}']:
        r = call(port, "POST", "/orders?tenant=a", headers=hdr, body=bad)
        assert (r.status, msg(r)) == (400, {"message": "Invalid request body"}), bad
    r = call(port, "POST", "/orders?tenant=a", headers=hdr, body=good)
    assert (r.status, r.body) == (200, b"accepted")


# ---------------------------------------------------------------------------------------------
# CORS
# ---------------------------------------------------------------------------------------------

def test_cors_preflight_answered_by_gateway_and_backend_headers_replaced(petrel_server):
    backend_headers = {"access-control-allow-origin": "https://evil.example", "content-type": "text/plain"}
    with RecordingBackend(lambda ev: Reply(200, b"hi", backend_headers)) as be:
        srv = petrel_server(f"""\
http:
  routes: {{"ANY /api/{{proxy+}}": {{integration: api, authorizer: jwt}}}}
  cors: {{allow_origins: ["https://app.example"], allow_methods: [GET, POST], allow_headers: [authorization, content-type],
          expose_headers: [x-trace], max_age: 600, allow_credentials: true}}
integrations: {{api: {{type: http_proxy, url: "http://127.0.0.1:{be.port}/{{proxy}}"}}}}
authorizers: {{jwt: {{type: jwt, issuer: "https://issuer.test", audiences: [api], secret: "{JWT_SECRET}"}}}}
""")
        port = srv.public_port
        pre = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "authorization"}
        r = call(port, "OPTIONS", "/api/things", headers=pre)
        assert r.status == 204
        assert r.header("access-control-allow-origin") == "https://app.example"
        assert r.header("access-control-allow-methods") == "GET,POST"
        assert r.header("access-control-allow-headers") == "authorization,content-type"
        assert r.header("access-control-max-age") == "600"
        assert r.header("access-control-allow-credentials") == "true"
        r = call(port, "OPTIONS", "/api/things", headers=dict(pre, Origin="https://evil.example"))
        assert r.status == 204 and r.header("access-control-allow-origin") is None
        assert be.snapshot() == [], "preflights never reach the backend (nor the authorizer)"
        r = call(port, "GET", "/api/things", headers={"Origin": "https://app.example",
                                                      "Authorization": "Bearer " + token()})
        assert r.status == 200 and r.body == b"hi"
        assert r.header_all("access-control-allow-origin") == ["https://app.example"]
        assert r.header("access-control-expose-headers") == "x-trace"
        r = call(port, "GET", "/api/things", headers={"Origin": "https://evil.example",
                                                      "Authorization": "Bearer " + token()})
        assert r.header("access-control-allow-origin") is None, "backend CORS headers are dropped"
        r = call(port, "GET", "/api/things", headers={"Origin": "https://app.example"})
        assert r.status == 401 and r.header("access-control-allow-origin") == "https://app.example"


# ---------------------------------------------------------------------------------------------
# Keep-alive and pipelining with asynchronous integrations
# ---------------------------------------------------------------------------------------------

def test_pipelined_requests_answered_in_order_with_async_integrations(petrel_server):
    def slow_first(ev):
        n = int(ev["pathParameters"]["id"])
        return proxy(200, f"item-{n}", delay=0.3 if n == 1 else 0.0)

    with RecordingBackend(slow_first) as be:
        srv = petrel_server(event_config(be.url, extra_routes='    "GET /mock": {integration: m}')
                            + "  m: {type: mock, status: 200, body: mock}\n")
        port = srv.public_port
        reqs = b"".join(f"GET {p} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
                        for p in ["/items/1", "/mock", "/items/2", "/nope", "/items/3"])
        with tcp_connect(port, timeout=10) as s:
            s.sendall(reqs)
            reader = HttpReader(s)
            got = [reader.read_response(timeout=10) for _ in range(5)]
            # The same connection keeps serving afterwards.
            s.sendall(b"GET /items/4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            last = reader.read_response(timeout=10)
            assert reader.wait_eof(3)
    assert [(r.status, r.body) for r in got] == [(200, b"item-1"), (200, b"mock"), (200, b"item-2"),
                                                 (404, b'{"message":"Not Found"}'), (200, b"item-3")]
    assert last.body == b"item-4"
    order = [rec.event["pathParameters"]["id"] for rec in be.snapshot()]
    assert order == ["1", "2", "3", "4"], "one call at a time per connection, in order"


def test_many_keep_alive_clients_in_parallel(petrel_server):
    import threading
    with RecordingBackend(lambda ev: proxy(200, ev["pathParameters"]["id"])) as be:
        srv = petrel_server(event_config(be.url))
        port = srv.public_port
        errors = []

        def client(k):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                for i in range(20):
                    conn.request("GET", f"/items/{k}-{i}")
                    r = conn.getresponse()
                    body = r.read()
                    if r.status != 200 or body != f"{k}-{i}".encode():
                        errors.append((k, i, r.status, body))
                conn.close()
            except Exception as e:  # noqa: BLE001
                errors.append((k, repr(e)))

        threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []


# ---------------------------------------------------------------------------------------------
# Stages and stage variables
# ---------------------------------------------------------------------------------------------

def stage_config(backend_port, fn_url_var="fnurl") -> str:
    return f"""\
stage: prod
stage_variables:
  backend: "127.0.0.1:{backend_port}"
  fnurl: "http://127.0.0.1:{backend_port}/events"
  env: staging
http:
  routes:
    "ANY /api/{{proxy+}}": {{integration: api}}
    "POST /fn": {{integration: fn}}
integrations:
  api:
    type: http_proxy
    url: "http://${{stageVariables.backend}}/base/{{proxy}}?env=${{stageVariables.env}}"
    headers: {{x-stage-env: "${{stageVariables.env}}", x-fixed: "1"}}
  fn: {{type: http, url: "${{stageVariables.{fn_url_var}}}", headers: {{x-env: "${{stageVariables.env}}"}}}}
"""


def test_stage_variables_in_urls_headers_and_events(petrel_server):
    with RecordingBackend(lambda ev: Reply(200, b"ok")) as be:
        srv = petrel_server(stage_config(be.port))
        r = call(srv.public_port, "GET", "/prod/api/a/b?q=1", headers={"X-Stage-Env": "from-client"})
        assert (r.status, r.body) == (200, b"ok")
        rec = be.wait_for(lambda rec: True)[0]
        assert rec.path == "/base/a/b?env=staging&q=1"
        assert rec.headers["x-stage-env"] == "staging", "the integration's header replaces the client's"
        assert rec.headers["x-fixed"] == "1"
        be.policy = lambda ev: proxy(200, "fn")
        r = call(srv.public_port, "POST", "/fn", body=b"{}", headers={"Content-Type": "application/json"})
        assert (r.status, r.body) == (200, b"fn")
        rec = be.wait_for(lambda rec: rec.path == "/events")[0]
    assert rec.headers["x-env"] == "staging"
    assert rec.event["stageVariables"] == {"backend": f"127.0.0.1:{be.port}",
                                           "fnurl": f"http://127.0.0.1:{be.port}/events", "env": "staging"}
    assert rec.event["requestContext"]["stage"] == "prod"


def test_unknown_or_bad_stage_variables_are_refused_by_check_config(petrel_bin, tmp_path):
    import subprocess
    cfg = tmp_path / "stage.yaml"
    cfg.write_text(stage_config(8080, fn_url_var="nosuch"))
    out = subprocess.run([petrel_bin, "check-config", str(cfg)], capture_output=True, text=True, timeout=20)
    assert out.returncode == 1, out
    assert "integrations.fn.url" in out.stdout and "nosuch" in out.stdout, out.stdout
    cfg.write_text('stage_variables: {"bad name": x, ok: "has space", fine: v1}\n'
                   'integrations: {p: {type: http_proxy, url: "http://h/", headers: {"x-a": "${stageVariables.missing}"}}}\n')
    out = subprocess.run([petrel_bin, "check-config", str(cfg)], capture_output=True, text=True, timeout=20)
    assert out.returncode == 1, out
    assert 'stage_variables["bad name"]' in out.stdout, out.stdout
    assert "stage_variables.ok" in out.stdout, out.stdout
    assert "integrations.p.headers.x-a" in out.stdout and "missing" in out.stdout, out.stdout
    assert "stage_variables.fine" not in out.stdout


# ---------------------------------------------------------------------------------------------
# Drain
# ---------------------------------------------------------------------------------------------

def test_drain_waits_for_http_route_calls_in_flight(petrel_server):
    import threading
    def slow(ev):
        if isinstance(ev, dict):   # the `http` integration's event
            return proxy(200, "slow", delay=1.0)
        return Reply(200, b"slow", delay=1.0)

    with RecordingBackend(slow) as be:
        srv = petrel_server(proxy_config(be.port).replace(
            '"$default": {integration: rest}', '"$default": {integration: rest}\n    "GET /fn": {integration: fn}')
            + f'  fn: {{type: http, url: "{be.url}"}}\n')
        port = srv.public_port
        results = {}

        def client(name, path):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", path)
            r = conn.getresponse()
            results[name] = (r.status, r.read(), r.getheader("connection"))
            conn.close()

        threads = [threading.Thread(target=client, args=(n, p)) for n, p in [("proxy", "/api/x"), ("event", "/fn")]]
        for t in threads:
            t.start()
        be.wait_for(lambda rec: True, count=2)
        srv.signal(signal.SIGTERM)
        time.sleep(0.2)
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        for t in threads:
            t.join(10)
        assert srv.wait_exit(10) == 0
    assert results["proxy"] == (200, b"slow", "close")
    assert results["event"] == (200, b"slow", "close")


def test_fixed_mock_answer_framing(petrel_server):
    """A mock body without placeholders is answered from bytes serialized at load: the same
    head as any answer (status, the integration's headers, a fresh apigw-requestid, the length),
    no body for HEAD, and Connection: close when the connection ends."""
    srv = petrel_server("""\
http:
  routes: {"ANY /fixed": {integration: ok}}
integrations: {ok: {type: mock, status: 201, body: '{"ok":true}', headers: {content-type: application/json, x-a: b}}}
""")
    with tcp_connect(srv.public_port, timeout=10) as s:
        reader = HttpReader(s)
        ids = set()
        for _ in range(2):
            s.sendall(b"GET /fixed HTTP/1.1\r\nHost: x\r\n\r\n")
            r = reader.read_response(timeout=10)
            assert (r.status, r.body) == (201, b'{"ok":true}')
            assert r.header("content-type") == "application/json" and r.header("x-a") == "b"
            assert r.header("content-length") == "11" and r.header("connection") is None
            ids.add(r.header("apigw-requestid"))
        assert len(ids) == 2, "each answer has its own request id"
        s.sendall(b"HEAD /fixed HTTP/1.1\r\nHost: x\r\n\r\n")
        r = reader.read_response(timeout=10, head_request=True)
        assert (r.status, r.body, r.header("content-length")) == (201, b"", "11")
        s.sendall(b"GET /fixed HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r = reader.read_response(timeout=10)
        assert (r.status, r.body, r.header("connection")) == (201, b'{"ok":true}', "close")
        assert reader.wait_eof(3)

/// `GET /` on the admin listener: the live dashboard, one self-contained page (inline CSS, JS
/// and SVG; no CDN, works offline). It reads `/dashboard/events` with `fetch()` so the bearer
/// token goes in a header; `data-auth` tells the page whether to wait for one.
enum DashboardPage {
    static func response(authRequired: Bool) -> HTTPResponse {
        authRequired ? withAuth : withoutAuth
    }

    private static let withAuth = make("required")
    private static let withoutAuth = make("none")

    private static func make(_ auth: String) -> HTTPResponse {
        HTTPResponse(status: 200, headers: [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store"),
                                            ("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:"),
                                            ("X-Content-Type-Options", "nosniff")],
                     body: Array(html.replacing("{{AUTH}}", with: auth).utf8))
    }

    private static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Petrel admin</title>
<link rel="icon" href="data:,">
<style>
  :root { --bg: #0f1419; --panel: #182029; --text: #d8e0e8; --muted: #8a98a8; --accent: #4fb3ff; --bad: #ff6b6b; --good: #5fd38d; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--text); }
  header { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; padding: 12px 20px; background: var(--panel); }
  h1 { font-size: 18px; margin: 0; color: var(--accent); }
  h2 { font-size: 13px; margin: 0 0 8px; color: var(--muted); font-weight: 600; text-transform: uppercase; letter-spacing: .04em; }
  #node-id { color: var(--muted); }
  #status { padding: 2px 8px; border-radius: 10px; background: #2a3542; }
  #status[data-state=live] { background: #1d4430; color: var(--good); }
  #status[data-state=auth], #status[data-state=error] { background: #4a2323; color: var(--bad); }
  form { margin-left: auto; display: flex; gap: 6px; }
  input, button { font: inherit; padding: 4px 8px; border-radius: 4px; border: 1px solid #33414f; background: #0f1419; color: var(--text); }
  button { background: #24527a; cursor: pointer; }
  main { padding: 16px 20px; display: grid; gap: 16px; }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(240px, 1fr)); gap: 16px; }
  .card, section.table { background: var(--panel); border-radius: 8px; padding: 14px 16px; }
  .big { font-size: 44px; font-weight: 700; font-variant-numeric: tabular-nums; }
  dl { display: grid; grid-template-columns: 1fr auto; margin: 0; row-gap: 4px; }
  dt { color: var(--muted); }
  dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; }
  svg { width: 100%; height: 60px; display: block; margin-top: 6px; }
  polyline { fill: none; stroke: var(--accent); stroke-width: 2; vector-effect: non-scaling-stroke; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { text-align: right; padding: 4px 8px; border-bottom: 1px solid #26313d; }
  th:first-child, td:first-child { text-align: left; }
  td.bad { color: var(--bad); }
  td.good { color: var(--good); }
</style>
</head>
<body data-auth="{{AUTH}}">
<header>
  <h1>Petrel</h1>
  <span id="node-id"></span>
  <span id="status" data-state="idle">idle</span>
  <form id="auth">
    <input id="token" type="password" placeholder="admin bearer token" autocomplete="off" aria-label="admin bearer token">
    <button id="connect" type="submit">Connect</button>
  </form>
</header>
<main>
  <div class="cards">
    <div class="card">
      <h2>Open connections</h2>
      <div class="big" id="connections">–</div>
      <svg viewBox="0 0 300 60" preserveAspectRatio="none" aria-label="open connections, last minute"><polyline id="spark" points=""/></svg>
    </div>
    <div class="card">
      <h2>Rates (per second)</h2>
      <dl>
        <dt>connects</dt><dd id="rate-connects">–</dd>
        <dt>messages in</dt><dd id="rate-messages-in">–</dd>
        <dt>messages out</dt><dd id="rate-messages-out">–</dd>
        <dt>@connections posts</dt><dd id="rate-posts">–</dd>
      </dl>
    </div>
    <div class="card">
      <h2>Errors (since start)</h2>
      <dl>
        <dt>HTTP 4xx</dt><dd id="err-http4xx">–</dd>
        <dt>HTTP 5xx</dt><dd id="err-http5xx">–</dd>
        <dt>throttled</dt><dd id="err-throttled">–</dd>
        <dt>rejected handshakes</dt><dd id="err-rejected">–</dd>
        <dt>integration failures</dt><dd id="err-integrationFailures">–</dd>
        <dt>registry errors</dt><dd id="err-registryErrors">–</dd>
        <dt>admin 4xx / 5xx</dt><dd id="err-admin">–</dd>
      </dl>
    </div>
  </div>
  <section class="table">
    <h2>Integration latency by route (ms)</h2>
    <table id="routes"><thead><tr><th>route</th><th>calls</th><th>p50</th><th>p90</th><th>p99</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="table">
    <h2>Nodes</h2>
    <table id="nodes"><thead><tr><th>node</th><th>status</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<script>
"use strict";
// Everything here talks to the admin listener that served the page; nothing leaves it.
const authRequired = document.body.dataset.auth === "required";
const $ = (id) => document.getElementById(id);
let controller = null;
let retryTimer = null;
let previous = null;
const history = [];

function setStatus(state, text) {
  const status = $("status");
  status.dataset.state = state;
  status.textContent = text;
}

function retry() {
  if (retryTimer === null) retryTimer = setTimeout(() => { retryTimer = null; connect(); }, 2000);
}

// fetch() rather than EventSource: EventSource cannot send the Authorization header, and the
// token must not travel in a URL that access logs keep.
async function connect() {
  if (controller) controller.abort();
  const token = $("token").value.trim();
  if (authRequired && !token) { setStatus("auth", "enter the admin token"); return; }
  const mine = new AbortController();
  controller = mine;
  setStatus("connecting", "connecting…");
  let response;
  try {
    response = await fetch("/dashboard/events", {
      headers: token ? { Authorization: "Bearer " + token } : {}, cache: "no-store", signal: mine.signal });
  } catch (e) {
    if (controller === mine) { setStatus("error", "admin listener unreachable"); retry(); }
    return;
  }
  if (response.status === 401 || response.status === 403) { setStatus("auth", "token refused (" + response.status + ")"); return; }
  if (!response.ok || !response.body) { setStatus("error", "stream failed (" + response.status + ")"); retry(); return; }
  setStatus("live", "live");
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
        if (data) render(JSON.parse(data));
      }
    }
  } catch (e) {
    if (controller !== mine) return;
  }
  if (controller === mine) { setStatus("error", "stream ended, reconnecting"); retry(); }
}

function perSecond(now, before, key) {
  const seconds = (now.time - before.time) / 1000;
  return seconds > 0 ? Math.max(0, now[key] - before[key]) / seconds : 0;
}

function rate(value) { return value < 10 ? value.toFixed(1) : String(Math.round(value)); }
function ms(seconds) { return seconds === null ? "–" : (seconds * 1000).toFixed(seconds < 0.01 ? 2 : 1); }

function fillRows(tbody, rows) {
  tbody.replaceChildren(...rows.map((cells) => {
    const tr = document.createElement("tr");
    for (const [text, cls] of cells) {
      const td = document.createElement("td");
      td.textContent = text;
      if (cls) td.className = cls;
      tr.appendChild(td);
    }
    return tr;
  }));
}

function render(s) {
  $("connections").textContent = String(s.connectionsOpen);
  $("node-id").textContent = "node " + s.node.id;
  if (previous) {
    $("rate-connects").textContent = rate(perSecond(s, previous, "connects"));
    $("rate-messages-in").textContent = rate(perSecond(s, previous, "messagesIn"));
    $("rate-messages-out").textContent = rate(perSecond(s, previous, "messagesOut"));
    $("rate-posts").textContent = rate(perSecond(s, previous, "posts"));
  }
  previous = s;
  for (const key of ["http4xx", "http5xx", "throttled", "rejected", "integrationFailures", "registryErrors"]) {
    $("err-" + key).textContent = String(s.errors[key]);
  }
  $("err-admin").textContent = s.errors.admin4xx + " / " + s.errors.admin5xx;
  fillRows($("routes").tBodies[0], s.routes.map((r) => [[r.route], [String(r.count)], [ms(r.p50)], [ms(r.p90)], [ms(r.p99)]]));
  fillRows($("nodes").tBodies[0], s.nodes.map((n) => [
    [n.id + (n.self ? " (this node)" : "")],
    [n.status, n.status === "ready" || n.status === "alive" ? "good" : "bad"]]));
  history.push(s.connectionsOpen);
  if (history.length > 60) history.shift();
  const top = Math.max(1, ...history);
  $("spark").setAttribute("points", history.map((v, i) => (i * 300 / 59).toFixed(1) + "," + (58 - v * 56 / top).toFixed(1)).join(" "));
}

$("auth").addEventListener("submit", (e) => { e.preventDefault(); connect(); });
if (authRequired) setStatus("auth", "enter the admin token"); else connect();
</script>
</body>
</html>
"""#
}

"""Headless Chromium (Debian `chromium`) driven over the DevTools protocol, for e2e tests of pages.

`Chromium(workdir)` starts one browser on a loopback DevTools port; `browser.open(url)` gives a
`Page` whose console errors and uncaught exceptions are collected from before the first byte of
the page loads (the target starts blank, logging is enabled, then it navigates).
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or shutil.which("chromium-browser") or "")


class Chromium:
    """Headless Chromium with a DevTools endpoint on a loopback port; pages driven over CDP."""

    def __init__(self, workdir: Path):
        self.profile = Path(tempfile.mkdtemp(prefix="chromium-", dir=workdir))
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--metrics-recording-only",
             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
             f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not port_file.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited {self.proc.returncode}: {self.proc.stderr.read()[-2000:]}")
            time.sleep(0.1)
        time.sleep(0.1)
        self.port = int(port_file.read_text().split()[0])

    def _http(self, method: str, path: str):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method)
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
        try:
            return json.loads(body)
        except ValueError:
            return body.decode()

    def open(self, url: str, page_class: type["Page"] | None = None) -> "Page":
        info = self._http("PUT", "/json/new?" + urllib.parse.quote("about:blank", safe=""))
        page = (page_class or Page)(self, info["id"], info["webSocketDebuggerUrl"])
        page.cdp("Runtime.enable")
        page.cdp("Log.enable")
        page.cdp("Page.enable")
        page.cdp("Page.navigate", url=url)
        return page

    def close_page(self, page: "Page"):
        page.ws.close()
        self._http("GET", f"/json/close/{page.id}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    def __init__(self, browser: Chromium, target_id: str, ws_url: str):
        from websockets.sync.client import connect
        self.browser = browser
        self.id = target_id
        self.ws = connect(ws_url, open_timeout=10, max_size=None, ping_interval=None)
        self._next = 0
        self.events: list[dict] = []  # CDP events seen while waiting for answers

    def cdp(self, method: str, **params) -> dict:
        self._next += 1
        mid = self._next
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        deadline = time.monotonic() + 10
        while True:
            msg = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"CDP {method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def js(self, expression: str):
        r = self.cdp("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"page script failed: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait_js(self, expression: str, timeout: float = 10.0, what: str = ""):
        deadline = time.monotonic() + timeout
        last = error = None
        while time.monotonic() < deadline:
            try:
                last = self.js(expression)
            except RuntimeError as e:  # e.g. the page is still loading
                last, error = None, str(e)
            if last:
                return last
            time.sleep(0.1)
        raise AssertionError(f"{what or expression}: still {last!r} after {timeout}s ({error}); "
                             f"page: {self.describe()}")

    def describe(self) -> str:
        """What a failed wait reports about the page; subclasses show their own state."""
        return f"console errors {self.console_errors()}"

    def console_errors(self) -> list[str]:
        """console.error calls, uncaught exceptions and error log entries (failed loads, CSP)."""
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.append(f"exception: {d.get('text')} {d.get('exception', {}).get('description', '')}")
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console.error: " + " ".join(str(a.get("value", a.get("description"))) for a in p.get("args", [])))
            elif e["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        return out

    def click(self, element_id: str):
        self.js(f"document.getElementById({json.dumps(element_id)}).click()")

    def insert_text(self, element_id: str, text: str):
        """Real input: focus the element and insert the text as typing would."""
        self.js(f"document.getElementById({json.dumps(element_id)}).focus()")
        self.cdp("Input.insertText", text=text)

    def screenshot(self, path: Path, width: int = 1280, height: int = 900) -> Path:
        self.cdp("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        time.sleep(0.2)  # one frame at the new size
        data = self.cdp("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

"""The HTML report renders in a real browser: headless Chromium (Debian `chromium`) takes a
screenshot, the rendered DOM has its charts with data points, and the console stays clean."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
         "--enable-logging=stderr", "--v=0"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (scripts/install-deps.sh adds it)")


def chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path}/chromium-profile", *args],
                          capture_output=True, text=True, timeout=90)


def console_messages(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ":CONSOLE" in ln]


def screenshot(tmp_path, page, name) -> tuple[bytes, list[str]]:
    png = tmp_path / name
    proc = chromium(tmp_path, f"--screenshot={png}", "--window-size=1200,1600", page.as_uri())
    assert png.exists(), proc.stderr[-2000:]
    return png.read_bytes(), console_messages(proc.stderr)


def test_console_detection_works(tmp_path):
    """Control: a page with a script error is caught by the same check."""
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>throw new Error('broken page')</script></body></html>")
    _, messages = screenshot(tmp_path, bad, "bad.png")
    assert any("broken page" in m for m in messages), messages


def test_html_report_renders_charts_without_console_errors(petrel_server, run_loadtest, tmp_path):
    srv = petrel_server()
    html = tmp_path / "report.html"
    rc, report, _, err = run_loadtest("echo", "-c", "10", "-d", "3s", "--warmup", "1s", "--html", str(html), srv.url)
    assert rc == 0, err
    text = html.read_text()
    assert "<script" not in text and "http://" not in text.replace("http://www.w3.org/2000/svg", "")

    blank = tmp_path / "blank.html"
    blank.write_text("<html><body></body></html>")
    blank_png, _ = screenshot(tmp_path, blank, "blank.png")
    png, messages = screenshot(tmp_path, html, "report.png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) > 5 * len(blank_png), (len(png), len(blank_png))
    assert messages == [], messages

    dom = chromium(tmp_path, "--dump-dom", html.as_uri()).stdout
    charts = re.findall(r'<svg id="chart-([a-z]+)"', dom)
    assert {"throughput", "latency", "spectrum", "connections"} <= set(charts), charts
    lines = re.findall(r'<polyline class="series" data-name="([^"]+)" data-points="(\d+)"[^>]* points="([^"]+)"', dom)
    by_name = {name: (int(n), pts) for name, n, pts in lines}
    assert by_name["messages/s"][0] == len(report["series"]) >= 4
    assert by_name["p99"][0] >= 4
    # The throughput line really moves off the axis: some y coordinate above the x axis.
    ys = [float(p.split(",")[1]) for p in by_name["messages/s"][1].split()]
    assert min(ys) < max(ys)

"""The HTML report in a real headless browser (Debian's ``chromium``).

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
the browser reads NUL-terminated JSON commands on fd 3 and writes on fd 4), so the
test needs only the standard library. It checks that the page loads with no console
error, no uncaught exception and no dialog (the events file has a ``<script>`` name),
that every chart decodes and paints (non-white pixels inside each chart's box on a
full-page screenshot), and that every request the page makes is ``file:`` or
``data:`` — nothing leaves the machine. A control page with an external image and a
``console.error`` proves the detectors can fail.

Install the browser with ``apt-get install -y chromium``.
"""

from __future__ import annotations

import base64
import fcntl
import io
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from backtest.pipeline import RunSettings, run_all
from backtest.report import write_report

EVENTS = (
    "event_id,name,announced_at,timezone,kind,description,source,symbols\n"
    "deepseek_r1,DeepSeek R1 AI-chip sell-off,2025-01-26T18:00:00-05:00,America/New_York,shock,"
    "R1 release,https://www.reuters.com/technology/deepseek-2025-01-27/,\n"
    'hostile,<script>alert(1)</script>,2025-04-02T16:00:00-04:00,America/New_York,shock,"<b>x</b>",,\n'
)
CHART_COUNT = 7  # price paths, CAR paths, placebo, recovery, Kaplan-Meier, equity curves, heatmap
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
    "--mute-audio", "--hide-scrollbars", "--remote-debugging-pipe",
)  # fmt: skip


class Chromium:
    """Headless Chromium over the DevTools protocol on a pipe (stdlib only)."""

    def __init__(self, timeout: float = 60.0) -> None:
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if exe is None:
            raise RuntimeError("chromium is not installed; run: apt-get install -y chromium")
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="backtest-chromium-")
        to_child_r, self._write = os.pipe()
        self._read, from_child_w = os.pipe()
        # the child's ends go above fd 10 first, so that dup2 onto 3 and 4 cannot clobber them
        child_in = fcntl.fcntl(to_child_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_out = fcntl.fcntl(from_child_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_child_r)
        os.close(from_child_w)

        def attach_pipes() -> None:  # runs in the child: fd 3 = commands in, fd 4 = replies out
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        self.proc = subprocess.Popen(
            [exe, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=attach_pipes,
            close_fds=False,
        )
        os.close(child_in)
        os.close(child_out)
        self._buffer = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium did not answer in time")
            ready, _, _ = select.select([self._read], [], [], left)
            if ready:
                chunk = os.read(self._read, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(raw)

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._message(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict[str, Any]:
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        deadline = time.monotonic() + self.timeout
        while True:
            event = self._message(deadline)
            if event.get("method") == method:
                return event
            self.events.append(event)

    def open(self, url: str, width: int = 1280, height: int = 900) -> str:
        """Open ``url`` in a new tab with Page/Runtime/Log/Network events on; returns the session id."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        self.events.clear()
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_for("Page.loadEventFired")
        self.send("Runtime.evaluate", {"expression": "1", "awaitPromise": True}, session=session)  # flush
        return session

    def evaluate(self, expression: str, session: str) -> Any:
        result = self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session
        )
        return result["result"].get("value")

    def screenshot(self, session: str) -> np.ndarray:
        """Full-page screenshot as an RGB array."""
        size = self.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = self.send(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True, "clip": clip},
            session=session,
        )
        png = base64.b64decode(shot["data"])
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._write)
        os.close(self._read)
        shutil.rmtree(self.profile, ignore_errors=True)


def problems(events: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Console errors, exceptions, dialogs and requests that are neither file: nor data:."""
    found: dict[str, list[str]] = {"console": [], "exceptions": [], "dialogs": [], "outside_requests": []}
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            found["console"].append(json.dumps(params.get("args"))[:200])
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            found["console"].append(params["entry"].get("text", "")[:200])
        elif method == "Runtime.exceptionThrown":
            found["exceptions"].append(json.dumps(params.get("exceptionDetails"))[:200])
        elif method == "Page.javascriptDialogOpening":
            found["dialogs"].append(params.get("message", ""))
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if not url.startswith(("file:", "data:")):
                found["outside_requests"].append(url)
    return found


@pytest.fixture(scope="module")
def browser() -> Any:
    chromium = Chromium()
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("browser")
    events = base / "events.csv"
    events.write_text(EVENTS, encoding="utf-8")
    run = run_all(RunSettings(events=str(events), symbols=("NVDA", "005930.KS"), grid=(("hold", (5, 10)),)))
    write_report(run, base / "out")
    return base / "out" / "report.html"


@pytest.fixture(scope="module")
def loaded(browser: Chromium, report: Path) -> dict[str, Any]:
    session = browser.open(report.as_uri())
    charts = browser.evaluate(
        "Array.from(document.querySelectorAll('img.chart')).map(i => ({complete: i.complete, "
        "width: i.naturalWidth, height: i.naturalHeight, box: i.getBoundingClientRect().toJSON()}))",
        session,
    )
    title_text = browser.evaluate("document.querySelector('#events table').innerText", session)
    pixels = browser.screenshot(session)
    Image.fromarray(pixels).save(report.with_name("screenshot.png"))  # kept for a human to look at
    return {"events": list(browser.events), "charts": charts, "pixels": pixels, "text": title_text}


def test_page_loads_without_console_errors_exceptions_or_dialogs(loaded: dict[str, Any]) -> None:
    found = problems(loaded["events"])
    assert found["console"] == []
    assert found["exceptions"] == []
    assert found["dialogs"] == []  # the <script> event name did not run
    assert "<script>alert(1)</script>" in loaded["text"]  # ... it shows as text


def test_no_request_leaves_the_machine(loaded: dict[str, Any]) -> None:
    requests = [
        e["params"]["request"]["url"]
        for e in loaded["events"]
        if e.get("method") == "Network.requestWillBeSent"
    ]
    assert requests and requests[0].startswith("file:")  # the page itself was seen by the detector
    assert problems(loaded["events"])["outside_requests"] == []


def test_every_chart_decodes_and_paints(loaded: dict[str, Any]) -> None:
    charts = loaded["charts"]
    assert len(charts) == CHART_COUNT
    pixels = loaded["pixels"]
    assert pixels.shape[1] == 1280 and pixels.shape[0] > 2000
    for i, chart in enumerate(charts):
        assert chart["complete"] and chart["width"] > 200 and chart["height"] > 100, chart
        box = chart["box"]  # page coordinates: the page is not scrolled
        top, left = int(box["top"]), int(box["left"])
        region = pixels[top : top + int(box["height"]), left : left + int(box["width"])]
        assert region.shape[0] > 100 and region.shape[1] > 200
        ink = (region.astype(int).sum(axis=2) < 3 * 235).mean()  # share of clearly non-white pixels
        # lines, axes, labels and text: a drawn chart has a few percent ink, a blank box none
        assert 0.01 < ink < 0.9, f"chart {i}: {ink:.4f} non-white"


def test_detectors_catch_an_outside_request_and_a_console_error(browser: Chromium, tmp_path: Path) -> None:
    # control page without CSP: an image from a (closed) local port and a console.error
    page = tmp_path / "control.html"
    page.write_text(
        '<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/probe.png">'
        '<script>console.error("control error")</script></body></html>',
        encoding="utf-8",
    )
    browser.open(page.as_uri())
    found = problems(browser.events)
    assert found["outside_requests"] == ["http://127.0.0.1:9/probe.png"]
    assert any("control error" in text for text in found["console"])

"""Real outside programs for tests: Debian's Prometheus, headless Chromium, zsh and fish.

`make test` installs them with apt when they are missing and it runs as root (as CI
does); elsewhere a test that needs one skips, saying how to get it, and in CI it fails.
Chromium is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`),
so the standard library is enough to read a page's console.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def need(program: str) -> str:
    """The program's path; skip (fail in CI) when it is not installed."""
    path = shutil.which(program)
    if path:
        return path
    message = (
        f"needs Debian's {program} (`make test` installs it as root: apt-get install {program})"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, deadline: float) -> None:
    """Until `url` answers 200 (or fail at the deadline, a monotonic time)."""
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError as exc:
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"{url} did not come up: {last}")


@contextmanager
def process(args: list[str], log: Path, **kwargs: Any) -> Iterator[subprocess.Popen[bytes]]:
    """A process in its own group, killed with its children at the end."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **kwargs
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


@dataclass
class Prometheus:
    url: str

    def query(self, expr: str) -> list[dict[str, Any]]:
        q = urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{q}", timeout=5) as r:
            body = json.loads(r.read())
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def value(self, expr: str, deadline: float) -> float:
        """The single value `expr` evaluates to, waiting for scrapes until the deadline."""
        while True:
            result = self.query(expr)
            if result:
                return float(result[0]["value"][1])
            if time.monotonic() > deadline:
                raise AssertionError(f"no value for {expr}")
            time.sleep(0.5)


@contextmanager
def prometheus(
    target: str, workdir: Path, rules: Path | None = None, interval: str = "1s"
) -> Iterator[Prometheus]:
    """Debian's Prometheus scraping `target` (HOST:PORT) every `interval` on loopback,
    evaluating the alert `rules` file if one is given."""
    binary = need("prometheus")
    port = free_port()
    config = workdir / "prometheus.yml"
    rule_files = f"rule_files:\n  - {rules}\n" if rules else ""
    config.write_text(
        f"global:\n  scrape_interval: {interval}\n  evaluation_interval: {interval}\n"
        f"{rule_files}scrape_configs:\n  - job_name: lookout\n    static_configs:\n"
        f"      - targets: ['{target}']\n"
    )
    args = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with process(args, workdir / "prometheus.log"):
        url = f"http://127.0.0.1:{port}"
        wait_for(f"{url}/-/ready", time.monotonic() + 60)
        yield Prometheus(url)


@dataclass
class Page:
    """What a page did while it loaded: console messages, exceptions, log errors."""

    console: list[dict[str, Any]] = field(default_factory=list)
    exceptions: list[dict[str, Any]] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    screenshot: bytes = b""

    @property
    def errors(self) -> list[str]:
        out = [json.dumps(c) for c in self.console if c.get("type") in ("error", "assert")]
        out += [json.dumps(e) for e in self.exceptions]
        out += [json.dumps(e) for e in self.log if e.get("level") == "error"]
        return out


class _Pipe:
    """The DevTools protocol over Chromium's debugging pipe (NUL-separated JSON)."""

    def __init__(self, write_fd: int, read_fd: int):
        self.w, self.r = write_fd, read_fd
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self.read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))
            self.events.append(reply)

    def notify(self, method: str) -> None:
        """Send without waiting for the reply (Browser.close ends the conversation)."""
        self.next_id += 1
        os.write(self.w, json.dumps({"id": self.next_id, "method": method}).encode() + b"\0")

    def read(self) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            chunk = os.read(self.r, 1 << 16)
            if not chunk:
                raise AssertionError("chromium closed its debugging pipe")
            self.buffer += chunk
        raw, _, self.buffer = self.buffer.partition(b"\0")
        return dict(json.loads(raw))

    def wait_event(self, method: str, deadline: float) -> None:
        if any(e.get("method") == method for e in self.events):
            return
        while time.monotonic() < deadline:
            event = self.read()
            self.events.append(event)
            if event.get("method") == method:
                return
        raise AssertionError(f"no {method} before the deadline")


def open_page(path: Path, expressions: dict[str, str] | None = None, width: int = 1200) -> Page:
    """Load a file in headless Chromium; return its console output, the values of
    `expressions` evaluated in it, and a PNG screenshot."""
    binary = need("chromium")
    cmd_r, cmd_w = os.pipe()
    out_r, out_w = os.pipe()

    def child_fds() -> None:  # the pipe's ends become fds 3 (commands) and 4 (replies)
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (cmd_r, out_w)]
        os.dup2(high[0], 3)
        os.dup2(high[1], 4)

    with tempfile.TemporaryDirectory(prefix="lookout-chromium-") as profile:
        args = [binary, *CHROMIUM_FLAGS, "--remote-debugging-pipe", f"--user-data-dir={profile}"]
        with process(
            args, Path(profile) / "chromium.log", pass_fds=(3, 4), preexec_fn=child_fds
        ) as proc:
            os.close(cmd_r)
            os.close(out_w)
            pipe = _Pipe(cmd_w, out_r)
            try:
                target = pipe.send("Target.createTarget", url="about:blank")["targetId"]
                session = pipe.send("Target.attachToTarget", targetId=target, flatten=True)[
                    "sessionId"
                ]
                for domain in ("Runtime", "Log", "Page"):
                    pipe.send(f"{domain}.enable", session)
                pipe.send(
                    "Emulation.setDeviceMetricsOverride",
                    session,
                    width=width,
                    height=900,
                    deviceScaleFactor=1,
                    mobile=False,
                )
                pipe.send("Page.navigate", session, url=path.resolve().as_uri())
                pipe.wait_event("Page.loadEventFired", time.monotonic() + 30)
                page = Page()
                for name, expr in (expressions or {}).items():
                    result = pipe.send(
                        "Runtime.evaluate", session, expression=expr, returnByValue=True
                    )
                    page.values[name] = result.get("result", {}).get("value")
                shot = pipe.send(
                    "Page.captureScreenshot", session, format="png", captureBeyondViewport=True
                )
                page.screenshot = base64.b64decode(shot["data"])
                for e in pipe.events:
                    p = e.get("params", {})
                    if e.get("method") == "Runtime.consoleAPICalled":
                        page.console.append({"type": p.get("type"), "args": p.get("args")})
                    elif e.get("method") == "Runtime.exceptionThrown":
                        page.exceptions.append(p.get("exceptionDetails", {}))
                    elif e.get("method") == "Log.entryAdded":
                        page.log.append(p.get("entry", {}))
                pipe.notify("Browser.close")
            finally:
                os.close(cmd_w)
                os.close(out_r)
            proc.wait(10)
    return page

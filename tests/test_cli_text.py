"""Untrusted text on the command line: names from the store reach the terminal inert.

A model, alias or pipeline name that the SDK, an MLflow server or another process put
in the store, and the scheduler lease's holder, are printed by `status`, `models`,
`requests`, `events` and `audit`. None of them may carry an escape sequence (OSC 52
writes the clipboard, OSC 0 retitles the window, CSI 2J clears it, DCS talks to the
terminal), an 8-bit control, a bidi override or a zero-width character to the screen,
or forge a line of its own.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from lookout.storage import audit, events, pipelines, registry, scheduling
from lookout.storage.db import Store

from tests.test_cli import _init

HOSTILE = (
    "\x1b]52;c;cm0gLXJmIH4=\x07"  # OSC 52: write the clipboard
    "\x1b]0;owned\x07"  # OSC 0: the window title
    "\x1b[2J"  # CSI 2J: clear the screen
    "\x1bP1$tevil\x1b\\"  # DCS
    "\x9b31m"  # 8-bit CSI
    "\u202e\u2066\u200b\ufeff"  # bidi override and isolate, zero-width space, BOM
    "\n✓ all healthy"  # a forged line
)
NAME = "evil" + HOSTILE
BAD = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]")


@pytest.fixture
def hostile(cli, tmp_path: Path) -> Path:
    """A workspace whose store holds hostile names everywhere the CLI prints one."""
    ws = _init(cli, tmp_path)
    store = Store(ws / "lookout.db")
    scheduling.acquire_lease(store, NAME, "host" + HOSTILE, os.getpid(), 3600)
    pipelines.upsert_pipeline(store, NAME, "custom", NAME, None, {})
    run = pipelines.create_run(store, NAME, [NAME], "manual", NAME)
    registry.ensure_model(store, NAME, "classification", "f1" + HOSTILE)
    v = registry.register_version(store, NAME, metrics={"f1" + HOSTILE: 1.0})
    with store.write() as conn:
        registry.move_alias(conn, NAME, NAME, v.version, kind="promotion", actor=NAME)
        registry.create_request(conn, NAME, v.version, NAME, NAME, NAME, [], 1)
        audit.append(conn, NAME, "promote", NAME, NAME)
    events.record(store, "run_failed", NAME, NAME, "error")
    assert run.id
    store.close()
    return ws


@pytest.mark.parametrize(
    "command",
    [
        ["status"],
        ["status", "--wide"],
        ["models"],
        ["models", NAME],
        ["requests"],
        ["events"],
        ["audit"],
        ["drift"],
        ["models", "nope" + HOSTILE],  # an error line echoes an argument
    ],
    ids=lambda c: " ".join(x[:8] for x in c),
)
def test_every_text_output_is_sanitized(cli, hostile: Path, command) -> None:
    result = cli(*command, "-w", str(hostile))
    assert result.code in (0, 1, 2), result.err
    for text in (result.out, result.err):
        assert not BAD.search(text), repr(text)
        assert "✓ all healthy" not in text.splitlines()  # no value forges a line of its own
    assert "evil" in result.out + result.err


def test_the_lease_holder_is_shown_clean(cli, hostile: Path) -> None:
    out = cli("status", "-w", str(hostile)).out
    first = out.splitlines()[0]
    assert first.startswith("scheduler: ● alive (evil")
    assert "owned" not in first and "\x1b" not in first

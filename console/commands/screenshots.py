"""`lookout screenshots [--out DIR]`: an SVG of every screen, from a seeded workspace.

The workspace comes from `lookout.console.showcase` (fixed times, so the pictures
only change when the console does). The same scenes drive the snapshot tests.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from lookout.console import showcase
from lookout.console.output import UsageError, echo
from lookout.console.showcase import NOW
from lookout.storage.records import Lease

SIZES = {"": (120, 40), "-80x24": (80, 24)}
USER = "alice"


async def settle(pilot: Any) -> None:
    """Wait until the screen has its data and no poll or worker has run for a few rounds."""
    app = pilot.app
    quiet = 0
    for _ in range(300):
        await pilot.pause()
        await app.workers.wait_for_complete()
        waiting = app.busy or not getattr(app.screen, "loaded", True)
        quiet = 0 if waiting else quiet + 1
        if quiet >= 3:
            break


def _jump(target: str) -> Callable[[Any], Awaitable[None]]:
    async def go(pilot: Any) -> None:
        await settle(pilot)
        pilot.app.jump(target)
        await settle(pilot)

    return go


def _keys(*keys: str, first: str | None = None) -> Callable[[Any], Awaitable[None]]:
    async def go(pilot: Any) -> None:
        await settle(pilot)
        if first:
            pilot.app.jump(first)
            await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return go


def _typed(text: str) -> list[str]:
    return ["space" if c == " " else c for c in text]


# Promoting a version that is not the candidate is refused: the dialog stays open with
# what was typed and says why.
REFUSED = ("P", "tab", "2", "tab", *_typed("better on weekends"), "enter")


async def _late(pilot: Any) -> None:
    """The scheduler missed two heartbeats but holds its lease: `▲ late`, not `○ down`."""
    await settle(pilot)
    app = pilot.app
    app.lease = Lease("scheduler", "ops-1:812:ab12", "ops-1", 812, NOW - 3600, NOW - 14, NOW + 16)
    app.jump("overview")
    await settle(pilot)
    app.screen.update_header()


# name -> what to do after the app starts
SCENES: dict[str, Callable[[Any], Awaitable[None]]] = {
    "overview": _jump("overview"),
    "pipeline": _jump("pipeline fraud-train"),
    "check": _jump("check transactions.amount_not_null"),
    "model": _jump("model churn"),
    "compare": _keys("m", "down", "down", first="model churn"),
    "promote": _keys("P", first="model churn"),
    "approve-override": _keys("a", first="approvals"),
    "refused": _keys("down", "down", *REFUSED, first="model churn"),
    "drift": _jump("drift churn"),
    "timeline": _jump("timeline"),
    "timeline-utc": _keys("t", first="timeline"),
    "acknowledge": _keys("a", first="timeline"),
    "search": _keys("slash", *"churn", "enter", first="timeline"),
    "events-keys": _keys("shift+tab"),
    "filter": _keys("tab", "slash", *_typed("trans"), "enter"),
    "zoom": _keys("shift+tab", "z"),
    "late": _late,
    "jump": _keys("colon", "m"),
    "audit": _keys("v", first="audit"),
    "approvals": _jump("approvals"),
    "help": _keys("question_mark"),
}


def make_app(ws: Any) -> Any:
    from lookout.console.app import LookoutApp
    from lookout.scheduler.door import Actor, Local

    # the screenshots show the showcase's own person, whoever takes them
    person = Local(ws, Actor(USER, None))
    return LookoutApp(ws, clock=lambda: showcase.NOW, start_scheduler=False, changes=person)


async def _shoot(ws: Any, name: str, size: tuple[int, int]) -> str:
    app = make_app(ws)
    async with app.run_test(size=size) as pilot:
        await SCENES[name](pilot)
        return str(app.export_screenshot(title=f"lookout · {name}"))


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot make the folder: {exc.strerror}") from None
    with tempfile.TemporaryDirectory(prefix="lookout-shots-") as tmp:
        ws = showcase.seed(Path(tmp) / "acme-ml", USER)
        try:
            for name in SCENES:
                for suffix, size in SIZES.items():
                    svg = asyncio.run(_shoot(ws, name, size))
                    path = out / f"{name}{suffix}.svg"
                    try:
                        path.write_text(svg, encoding="utf-8")
                    except OSError as exc:
                        raise UsageError(f"{path}: cannot write: {exc.strerror}") from None
                    echo(path)
        finally:
            ws.close()
    return 0

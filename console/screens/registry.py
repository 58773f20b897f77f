"""The one table of screens that `:` jump, the command palette, the help screen and the
jump prompt read. Adding a screen is its module plus one row here."""

from __future__ import annotations

from lookout.console.protocol import Target
from lookout.console.screens.approvals import ApprovalsScreen
from lookout.console.screens.audit import AuditScreen
from lookout.console.screens.check import CheckScreen
from lookout.console.screens.drift import DriftScreen
from lookout.console.screens.model import ModelScreen
from lookout.console.screens.pipeline import PipelineScreen
from lookout.console.screens.timeline import TimelineScreen


def _check(argument: str) -> CheckScreen | None:
    dataset, dot, name = argument.partition(".")
    return CheckScreen(dataset, name) if dot and name else None


# In the order help and the jump prompt list them.
TARGETS = (
    Target("model", ("m",), "NAME", ModelScreen),
    Target("pipeline", ("p",), "NAME", PipelineScreen),
    Target("check", ("c",), "DS.NAME", _check),
    Target("drift", ("d",), "MODEL", DriftScreen),
    Target(
        "timeline",
        ("events", "t"),
        "",
        lambda _: TimelineScreen(),
        title="Timeline",
        help="open the events timeline",
    ),
    Target(
        "audit",
        ("a",),
        "",
        lambda _: AuditScreen(),
        title="Audit log",
        help="open the audit chain",
    ),
    Target(
        "approvals",
        ("requests",),
        "",
        lambda _: ApprovalsScreen(),
        title="Approvals",
        help="open the promotion requests",
    ),
    Target("overview", ("home", "o"), "", None, title="Overview", help="back to the four panes"),
)


def find(text: str) -> tuple[Target, str] | None:
    """The row a `:` command names and the argument that follows its word, or None
    when the word is unknown or a required argument is missing."""
    word, _, argument = text.lstrip(":").strip().partition(" ")
    word, argument = word.lower(), argument.strip()
    for row in TARGETS:
        if word == row.word or word in row.aliases:
            return (row, argument) if argument or not row.argument else None
    return None

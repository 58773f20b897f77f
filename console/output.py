"""What every subcommand shares: opening the workspace, printing, failing in one line."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from lookout.scheduler.config import ConfigError
from lookout.scheduler.workspace import Workspace, open_workspace
from lookout.storage.db import StoreError
from lookout.storage.text import sanitize


class UsageError(Exception):
    """Bad usage or bad input: one line on stderr, exit code 2."""


def fail(message: str, code: int = 2) -> int:
    line = sanitize(message, single_line=True)
    if not line.startswith("lookout"):
        line = f"lookout: {line}"
    print(line, file=sys.stderr)
    return code


def workspace(args: argparse.Namespace, readonly: bool | None = None) -> Workspace:
    """Open the workspace named by the arguments, turning every failure into one line."""
    ro = bool(getattr(args, "readonly", False)) if readonly is None else readonly
    try:
        return open_workspace(getattr(args, "workspace", None), readonly=ro)
    except (ConfigError, StoreError) as exc:
        raise UsageError(str(exc)) from None


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, sort_keys=False, default=str, allow_nan=False)
    sys.stdout.write("\n")


def table(rows: list[list[str]], header: list[str]) -> str:
    """Plain aligned columns for terminals and pipes (no colour, no markup)."""
    cells = [[sanitize(c, 60, single_line=True) for c in r] for r in [header, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)

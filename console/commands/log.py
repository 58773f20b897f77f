"""`lookout log MODEL FILE [--labels] [--json]`: append a batch of inference inputs (or labels).

FILE is CSV, Parquet or Arrow IPC (read with pyarrow). Input files hold the
model's feature columns and optionally `prediction_id`, `prediction` and
`timestamp` (ISO dates or epoch seconds); other columns are ignored with a
note. Label files hold `prediction_id` and `label` (or the model's target
column). A file that does not fit stores nothing and exits 2 naming the column.
The file is read here, by whoever runs the command; each batch goes through the
one door (the reporter role), in a shared workspace as columns over the daemon's
socket, so the daemon never opens a path a client names.

A large file is read and logged in batches (``BATCH_ROWS`` rows, fewer for a wide
table), each its own transaction with its own profile; the next batch is read while
one is logged, so memory holds two batches whatever the file's size. A problem found part-way (text further down a feature
column) stops there, and the message says which rows were logged before it; a file
that fails in its first batch stores nothing.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
from lookout.console.output import (
    Failure,
    UsageError,
    echo,
    perform,
    print_json,
    refusal,
    workspace,
)
from lookout.scheduler.door import INVALID
from lookout.scheduler.drift import category_key
from lookout.scheduler.frame import DataError, Frame, KindChanged, read_ahead, scan_table
from lookout.storage import drift, registry
from lookout.storage.drift import LABEL, PREDICTION, PREDICTION_ID, TIMESTAMP, BatchError

BATCH_ROWS = 1 << 20  # a large file is logged in batches of at most this many rows,
BATCH_BYTES = 128 << 20  # and of this much data as float64 (a batch crosses the socket whole)


def _ids(frame: Frame, name: str) -> list[str]:
    col = frame[name]
    if col.dtype.kind in "US":
        return col.tolist()
    return ["" if np.isnan(v) else category_key(v) for v in col.tolist()]


def _inputs(frame: Frame, expected: dict[str, str] | None) -> tuple[dict[str, Any], list[str]]:
    wanted = (
        list(expected)
        if expected is not None
        else [n for n in frame.names if n not in (PREDICTION_ID, PREDICTION, TIMESTAMP)]
    )
    cols: dict[str, Any] = {}
    for name in wanted:
        if name not in frame.columns:
            raise BatchError(f'feature column "{name}" is missing')
        kind = frame.kinds[name]
        if expected is not None and expected[name] == "numeric" and kind in ("string", "datetime"):
            what = "text" if kind == "string" else "dates"
            raise BatchError(f'feature column "{name}" should hold numbers but holds {what}')
        cols[name] = frame[name]
    if PREDICTION_ID in frame.columns:
        cols[PREDICTION_ID] = _ids(frame, PREDICTION_ID)
    if PREDICTION in frame.columns:
        cols[PREDICTION] = frame[PREDICTION]
    if TIMESTAMP in frame.columns:
        if frame.kinds[TIMESTAMP] not in ("datetime", "number", "integer"):
            raise BatchError(f'column "{TIMESTAMP}" should hold dates or epoch seconds')
        cols[TIMESTAMP] = frame[TIMESTAMP]
    ignored = sorted(set(frame.names) - set(cols))
    return cols, ignored


def _labels(frame: Frame, target: str | None) -> tuple[dict[str, Any], list[str]]:
    if PREDICTION_ID not in frame.columns:
        raise BatchError(f'labels need a "{PREDICTION_ID}" column')
    source = LABEL if LABEL in frame.columns else target
    if source is None or source not in frame.columns:
        raise BatchError(f'labels need a "{LABEL}" column')
    cols: dict[str, Any] = {PREDICTION_ID: _ids(frame, PREDICTION_ID), LABEL: frame[source]}
    if TIMESTAMP in frame.columns:
        cols[TIMESTAMP] = frame[TIMESTAMP]
    return cols, sorted(set(frame.names) - {PREDICTION_ID, source, TIMESTAMP})


def run(args: argparse.Namespace) -> int:
    ws = workspace(args, changing=True)
    model = args.model
    mcfg = ws.config.models.get(model)
    if mcfg is None and registry.get_model(ws.store, model) is None:
        raise UsageError(f'no model named "{model}"')
    kind = "labels" if args.labels else "inputs"
    expected = None if args.labels else drift.expected_features(ws.store, model, mcfg)
    logged = Logged()
    force = {PREDICTION_ID: "string"}  # IDs are text, digit for digit: 64-bit ones too
    while True:
        try:
            batches = scan_table(
                args.file,
                batch_rows=BATCH_ROWS,
                batch_bytes=BATCH_BYTES,
                force=force,
            )
            for frame in read_ahead(batches):
                if frame.rows:
                    logged.add(ws, model, kind, frame, args, mcfg, expected)
                del frame  # the next batch is read without this one in memory
            break
        except KindChanged as exc:  # text further down a column: read it as text throughout
            if logged.ids or exc.name in force:
                raise UsageError(f"{args.file}: {exc}{logged.so_far()}") from None
            force[exc.name] = "string"
        except DataError as exc:  # names the file itself
            raise UsageError(f"{exc}{logged.so_far()}") from None
        except BatchError as exc:
            raise UsageError(f"{args.file}: {exc}{logged.so_far()}") from None
        except Failure as exc:
            raise Failure(f"{exc}{logged.so_far()}", exc.code) from None
    if not logged.ids:
        raise UsageError(f"{args.file}: no rows")
    if args.json:
        print_json(
            {
                "ok": True,
                "message": logged.message,
                "batch": logged.ids[0],
                "batches": logged.ids,
                "rows": logged.rows,
                "ignored": logged.ignored,
            }
        )
    else:
        echo(logged.message)
        if logged.ignored:
            echo(f"note: ignored columns not used by {model}: {', '.join(logged.ignored)}", 300)
        if not args.labels:
            echo(_when_drift(mcfg, model))
    return 0


class Logged:
    """The batches one `lookout log` has stored so far, and how to say so."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.rows = 0
        self.ignored: list[str] = []
        self.message = ""

    def add(
        self,
        ws: Any,
        model: str,
        kind: str,
        frame: Frame,
        args: argparse.Namespace,
        mcfg: dict[str, Any] | None,
        expected: dict[str, str] | None,
    ) -> None:
        """Log one batch of the file through the door (one batch, one transaction)."""
        if args.labels:
            cols, self.ignored = _labels(frame, (mcfg or {}).get("target"))
        else:
            cols, self.ignored = _inputs(frame, expected)
        outcome = perform(ws, "log", model=model, kind=kind, columns=cols)
        if not outcome.ok:
            refusal(outcome, f"{args.file}: " if outcome.data.get("error") == INVALID else "")
        self.ids.append(outcome.data["batch"])
        self.rows += frame.rows
        if len(self.ids) == 1:
            self.message = outcome.message
        else:
            self.message = (
                f"logged {self.rows} rows of {kind} for {model}"
                f" (batches {self.ids[0]}-{self.ids[-1]})"
            )

    def so_far(self) -> str:
        """What a failure part-way through a large file leaves logged, for its message."""
        if not self.ids:
            return ""
        which = (
            f"batch {self.ids[0]}"
            if len(self.ids) == 1
            else f"batches {self.ids[0]}-{self.ids[-1]}"
        )
        return f" (its first {self.rows} rows were logged, {which})"


def _when_drift(mcfg: dict[str, Any] | None, model: str) -> str:
    """When the batch shows up in the model's drift: on its schedule, or now with --run."""
    now = f"`lookout drift {model} --run` computes it now"
    if mcfg is None or mcfg["source"] != "local":
        return f"drift: {now}"
    every = mcfg["drift"]["schedule"]
    return f"drift: the scheduler computes it on its schedule ({every}); {now}"

"""`lookout log MODEL FILE [--labels] [--json]`: append a batch of inference inputs (or labels).

FILE is CSV, Parquet or Arrow IPC (read with pyarrow). Input files hold the
model's feature columns and optionally `prediction_id`, `prediction` and
`timestamp` (ISO dates or epoch seconds); other columns are ignored with a
note. Label files hold `prediction_id` and `label` (or the model's target
column). A file that does not fit stores nothing and exits 2 naming the column.
The file is read here, by whoever runs the command; the batch goes through the
one door (the reporter role), in a shared workspace as columns over the daemon's
socket, so the daemon never opens a path a client names.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
from lookout.console.output import UsageError, echo, perform, print_json, refusal, workspace
from lookout.scheduler.door import INVALID
from lookout.scheduler.drift import category_key
from lookout.scheduler.frame import DataError, Frame, read_table
from lookout.storage import drift, registry
from lookout.storage.drift import LABEL, PREDICTION, PREDICTION_ID, TIMESTAMP, BatchError


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
    try:
        frame = read_table(args.file)
    except DataError as exc:
        raise UsageError(str(exc)) from None
    if frame.rows == 0:
        raise UsageError(f"{args.file}: no rows")
    kind = "labels" if args.labels else "inputs"
    try:
        if args.labels:
            cols, ignored = _labels(frame, (mcfg or {}).get("target"))
        else:
            cols, ignored = _inputs(frame, drift.expected_features(ws.store, model, mcfg))
    except BatchError as exc:
        raise UsageError(f"{args.file}: {exc}") from None
    logged = perform(ws, "log", model=model, kind=kind, columns=cols)
    if not logged.ok:
        refusal(logged, f"{args.file}: " if logged.data.get("error") == INVALID else "")
    if args.json:
        print_json(
            {
                "ok": True,
                "message": logged.message,
                "batch": logged.data["batch"],
                "rows": frame.rows,
                "ignored": ignored,
            }
        )
    else:
        echo(logged.message)
        if ignored:
            echo(f"note: ignored columns not used by {model}: {', '.join(ignored)}", 300)
        if not args.labels:
            echo(_when_drift(mcfg, model))
    return 0


def _when_drift(mcfg: dict[str, Any] | None, model: str) -> str:
    """When the batch shows up in the model's drift: on its schedule, or now with --run."""
    now = f"`lookout drift {model} --run` computes it now"
    if mcfg is None or mcfg["source"] != "local":
        return f"drift: {now}"
    every = mcfg["drift"]["schedule"]
    return f"drift: the scheduler computes it on its schedule ({every}); {now}"

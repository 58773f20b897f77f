"""Data snapshots and check results (history plus the latest result of each check)."""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import replace
from itertools import chain
from operator import itemgetter
from typing import Any

from lookout.storage import events
from lookout.storage.db import Store, now
from lookout.storage.records import CheckResult, Snapshot
from lookout.storage.text import sanitize

MAX_EXAMPLES = 20
EXAMPLE_CHARS = 80
# Failing first, then by severity of the outcome.
RESULT_ORDER = "CASE r.result WHEN 'fail' THEN 0 WHEN 'error' THEN 1 WHEN 'warn' THEN 2 ELSE 3 END"


def record_snapshot(
    store: Store,
    dataset: str,
    source: str,
    rows: int,
    columns: dict[str, str],
    fingerprint: str,
    run_id: int | None = None,
) -> Snapshot:
    with store.write() as conn:
        t = now()
        cur = conn.execute(
            "INSERT INTO snapshots (dataset, created_at, source, rows, columns_json, fingerprint,"
            " run_id) VALUES (?,?,?,?,?,?,?)",
            (dataset, t, source, rows, json.dumps(columns), fingerprint, run_id),
        )
        return Snapshot(
            int(cur.lastrowid or 0), dataset, t, source, rows, columns, fingerprint, run_id
        )


def _snapshot(row: sqlite3.Row) -> Snapshot:
    return Snapshot(
        id=row["id"],
        dataset=row["dataset"],
        created_at=row["created_at"],
        source=row["source"],
        rows=row["rows"],
        columns=json.loads(row["columns_json"]),
        fingerprint=row["fingerprint"],
        run_id=row["run_id"],
    )


def get_snapshot(store: Store, snapshot_id: int) -> Snapshot | None:
    row = store.conn.execute("SELECT * FROM snapshots WHERE id = ?", (snapshot_id,)).fetchone()
    return _snapshot(row) if row else None


def latest_snapshot(store: Store, dataset: str) -> Snapshot | None:
    row = store.conn.execute(
        "SELECT * FROM snapshots WHERE dataset = ? ORDER BY id DESC LIMIT 1", (dataset,)
    ).fetchone()
    return _snapshot(row) if row else None


def _text(value: str | None, limit: int) -> str | None:
    """`sanitize`, skipped for the common short printable string (bulk loads are hot)."""
    if value is None or (value.__class__ is str and len(value) <= limit and value.isprintable()):
        return value
    return sanitize(value, limit)


def _check_id(
    conn: sqlite3.Connection, dataset: str, name: str, known: dict[tuple[str, str], int]
) -> int:
    """The integer id of a check (dataset, name), added on first use; `known` caches them.

    Call inside a write transaction, so no other writer adds the same check meanwhile.
    """
    key = (dataset, name)
    found = known.get(key)
    if found is None:
        row = conn.execute("SELECT id FROM checks WHERE dataset = ? AND name = ?", key).fetchone()
        if row is None:
            cur = conn.execute("INSERT INTO checks (dataset, name) VALUES (?, ?)", key)
            found = int(cur.lastrowid or 0)
        else:
            found = int(row[0])
        known[key] = found
    return found


def _clean(result: CheckResult, check_id: int, at: float) -> tuple[Any, ...]:
    examples = result.examples
    examples_json = (
        json.dumps([sanitize(e, EXAMPLE_CHARS, single_line=True) for e in examples[:MAX_EXAMPLES]])
        if examples
        else "[]"
    )
    return (
        check_id,
        result.kind,
        result.severity,
        result.result,
        _text(result.observed, 200),
        _text(result.threshold, 200),
        result.rows_examined,
        result.failing_rows,
        examples_json,
        _text(result.message, 500),
        result.snapshot_id,
        result.run_id,
        result.at or at,
    )


# The columns of check_results in the order `_clean` returns their values.
_COLUMNS = (
    "check_id",
    "kind",
    "severity",
    "result",
    "observed",
    "threshold",
    "rows_examined",
    "failing_rows",
    "examples_json",
    "message",
    "snapshot_id",
    "run_id",
    "at",
)
_OBSERVED, _THRESHOLD, _EXAMPLES, _MESSAGE, _AT = (
    _COLUMNS.index(c) for c in ("observed", "threshold", "examples_json", "message", "at")
)
_INSERT = (
    f"INSERT INTO check_results ({', '.join(_COLUMNS)}) VALUES ({','.join('?' * len(_COLUMNS))})"
)


def record_results(store: Store, results: Iterable[CheckResult]) -> list[CheckResult]:
    """Store results, keep the latest per check, and page once per failing check.

    A `fail`, `warn` or `error` result opens one event per check (kept open,
    not repeated, while the check stays bad); a `pass` resolves it.
    """
    stored: list[CheckResult] = []
    t = now()
    known: dict[tuple[str, str], int] = {}
    batch: str | None = None  # the pass's failures go out as one notification
    with store.write() as conn:
        for result in results:
            check_id = _check_id(conn, result.dataset, result.name, known)
            row = _clean(result, check_id, t)
            cur = conn.execute(_INSERT, row)
            rid = int(cur.lastrowid or 0)
            conn.execute(
                "INSERT INTO check_latest (check_id, result_id) VALUES (?,?)"
                " ON CONFLICT(check_id) DO UPDATE SET result_id = excluded.result_id",
                (check_id, rid),
            )
            key = f"check:{result.dataset}:{result.name}"
            if batch is None:
                batch = f"run:{result.run_id}" if result.run_id else f"checks:{rid}"
            if result.result == "pass":
                events.resolve(conn, key, t)
            else:
                severity = "error" if result.result == "fail" else "warn"
                what = "could not be evaluated" if result.result == "error" else result.result
                detail = f" (observed {result.observed})" if result.observed is not None else ""
                if result.result == "error" and result.message:
                    detail = f": {result.message}"
                events.raise_event(
                    conn,
                    "check_failed",
                    f"{result.dataset}.{result.name}",
                    sanitize(f"check {result.name} on {result.dataset}: {what}{detail}", 300),
                    severity=severity,
                    dedup_key=key,
                    at=t,
                    batch=batch,
                )
            # Hand back what was stored (sanitized), not what was passed in.
            stored.append(
                replace(
                    result,
                    observed=row[_OBSERVED],
                    threshold=row[_THRESHOLD],
                    examples=tuple(json.loads(row[_EXAMPLES])),
                    message=row[_MESSAGE],
                    id=rid,
                    at=row[_AT],
                )
            )
    return stored


ROWS_PER_STATEMENT = 2000  # 13 values a row stays under SQLite's 32766 bound parameters
# Columns that a bulk statement leaves out when they are NULL in every row it carries.
# Only columns without a DEFAULT belong here: left out, they are NULL.
_NULLABLE = tuple(_COLUMNS.index(c) for c in ("observed", "threshold", "snapshot_id", "run_id"))
_EVERY_COLUMN = tuple(range(len(_COLUMNS)))


@functools.lru_cache(maxsize=64)
def _multi_insert(columns: tuple[int, ...], rows: int) -> str:
    names = ", ".join(_COLUMNS[i] for i in columns)
    one = "(" + ",".join("?" * len(columns)) + ")"
    return f"INSERT INTO check_results ({names}) VALUES " + ",".join([one] * rows)


def _insert_rows(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """One multi-row INSERT of cleaned rows.

    The sqlite3 module binds None slowly (it looks for an adapter, and fails, for
    each one), so a column that is NULL in every row is left out of the statement.
    """
    skip = [i for i in _NULLABLE if all(row[i] is None for row in rows)]
    if skip:
        columns = tuple(i for i in _EVERY_COLUMN if i not in skip)
        values = list(chain.from_iterable(map(itemgetter(*columns), rows)))
    else:
        columns = _EVERY_COLUMN
        values = list(chain.from_iterable(rows))
    conn.execute(_multi_insert(columns, len(rows)), values)


def insert_history(store: Store, results: Iterable[CheckResult]) -> int:
    """Bulk-load results without events or latest tracking (imports, benchmarks).

    Rows go in as multi-row INSERTs: binding 2000 rows to one statement costs
    about half of stepping one statement per row.
    """
    t = now()
    count = 0
    rows: list[tuple[Any, ...]] = []
    known: dict[tuple[str, str], int] = {}
    with store.write() as conn:
        for r in results:
            check_id = known.get((r.dataset, r.name)) or _check_id(conn, r.dataset, r.name, known)
            rows.append(_clean(r, check_id, t))
            if len(rows) == ROWS_PER_STATEMENT:
                _insert_rows(conn, rows)
                count += len(rows)
                rows = []
        if rows:
            _insert_rows(conn, rows)
            count += len(rows)
    return count


def _result(row: sqlite3.Row) -> CheckResult:
    return CheckResult(
        dataset=row["dataset"],
        name=row["name"],
        kind=row["kind"],
        severity=row["severity"],
        result=row["result"],
        observed=row["observed"],
        threshold=row["threshold"],
        rows_examined=row["rows_examined"],
        failing_rows=row["failing_rows"],
        examples=tuple(json.loads(row["examples_json"])),
        message=row["message"],
        snapshot_id=row["snapshot_id"],
        run_id=row["run_id"],
        at=row["at"],
        id=row["id"],
    )


# Results with their check's dataset and name, as `_result` reads them.
_SELECT = "SELECT r.*, c.dataset, c.name FROM check_results r JOIN checks c ON c.id = r.check_id"


def latest_results(store: Store, dataset: str | None = None) -> list[CheckResult]:
    """The latest result of each check, failing first."""
    sql = (
        "SELECT r.*, c.dataset, c.name FROM check_latest l"
        " JOIN checks c ON c.id = l.check_id JOIN check_results r ON r.id = l.result_id"
        + (" WHERE c.dataset = ?" if dataset else "")
        + f" ORDER BY {RESULT_ORDER}, c.dataset, c.name"
    )
    return [_result(r) for r in store.conn.execute(sql, (dataset,) if dataset else ())]


def recent_failures(store: Store, limit: int = 50) -> list[CheckResult]:
    """The newest failing or erroring results across all history (indexed)."""
    # The condition is spelled exactly as the partial index's, so SQLite walks that index.
    sql = f"{_SELECT} WHERE r.result IN ('fail','error') ORDER BY r.id DESC LIMIT ?"
    return [_result(r) for r in store.conn.execute(sql, (limit,))]


def history(store: Store, dataset: str, name: str, limit: int = 100) -> list[CheckResult]:
    """One check's results, newest first."""
    rows = store.conn.execute(
        f"{_SELECT} WHERE r.check_id = (SELECT id FROM checks WHERE dataset = ? AND name = ?)"
        " ORDER BY r.id DESC LIMIT ?",
        (dataset, name, limit),
    )
    return [_result(r) for r in rows]


def results_for_snapshot(store: Store, snapshot_id: int) -> list[CheckResult]:
    """The check results of one data snapshot (what a version was trained on)."""
    rows = store.conn.execute(f"{_SELECT} WHERE r.snapshot_id = ? ORDER BY r.id", (snapshot_id,))
    return [_result(r) for r in rows]


def counts(store: Store) -> dict[str, int]:
    """How many checks currently pass, warn, fail or error."""
    out = {"pass": 0, "warn": 0, "fail": 0, "error": 0}
    for row in store.conn.execute(
        "SELECT r.result, count(*) FROM check_latest l JOIN check_results r ON r.id = l.result_id"
        " GROUP BY r.result"
    ):
        out[row[0]] = row[1]
    return out

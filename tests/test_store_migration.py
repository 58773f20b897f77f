"""Upgrading a store in place: a V2 store with check history, a V3 store with versions
and their profiles, a V6 store with logged batches and V7, V9 and V10 stores with runs open with the
current schema and read the same."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from lookout.storage import checks, events, intents, mirror, pipelines, registry, search
from lookout.storage.db import Store, migrate
from lookout.storage.records import CheckResult, Gate, MirroredRun, MirroredStage
from lookout.storage.schema import SCHEMA_VERSION

CHECKS = [("orders", "amount_range"), ("orders", "id_unique"), ("users", "email_not_null")]
OUTCOMES = ["pass", "pass", "warn", "fail", "pass", "error"]


def _v2_store(path: Path) -> list[CheckResult]:
    """A store as Lookout with schema V2 left it; returns the check results it holds."""
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, path, target=2)
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO snapshots (id, dataset, created_at, source, rows, columns_json, fingerprint)"
        " VALUES (7, 'orders', 1.7e9, 'orders.csv', 1000, '{}', 'abc')"
    )
    written = []
    for i in range(120):
        dataset, name = CHECKS[i % len(CHECKS)]
        result = OUTCOMES[i % len(OUTCOMES)]
        r = CheckResult(
            dataset,
            name,
            "range" if i % 2 else "not_null",
            "fail" if i % 2 else "warn",
            result,
            observed=None if i % 5 == 0 else f"{i / 7:.3f}",
            threshold=None if i % 4 == 0 else "< 0.5",
            rows_examined=1000 + i,
            failing_rows=i % 13,
            examples=(f"row {i}",) if result != "pass" else (),
            message="column missing" if result == "error" else "",
            snapshot_id=7 if i % 3 == 0 else None,
            at=1.7e9 + i,
        )
        cur = conn.execute(
            "INSERT INTO check_results (dataset, name, kind, severity, result, observed,"
            " threshold, rows_examined, failing_rows, examples_json, message, snapshot_id,"
            " run_id, at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                *(r.dataset, r.name, r.kind, r.severity, r.result, r.observed, r.threshold),
                *(r.rows_examined, r.failing_rows, json.dumps(list(r.examples)), r.message),
                *(r.snapshot_id, r.run_id, r.at),
            ),
        )
        written.append(replace(r, id=cur.lastrowid))
    conn.execute(
        "INSERT INTO check_latest (dataset, name, result_id)"
        " SELECT dataset, name, max(id) FROM check_results GROUP BY dataset, name"
    )
    conn.execute("COMMIT")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    conn.close()
    return written


def _schema(store: Store) -> dict[str, str]:
    rows = store.conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL")
    return {r["name"]: r["sql"] for r in rows}


def test_v2_store_with_check_history_upgrades_in_place(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    written = _v2_store(path)
    newest_first = written[::-1]
    latest = [next(r for r in newest_first if (r.dataset, r.name) == c) for c in CHECKS]
    order = {"fail": 0, "error": 1, "warn": 2, "pass": 3}

    store = Store(path)
    assert store.schema_version() == SCHEMA_VERSION
    for dataset, name in CHECKS:
        assert checks.history(store, dataset, name, limit=1000) == [
            r for r in newest_first if (r.dataset, r.name) == (dataset, name)
        ]
    assert checks.latest_results(store) == sorted(
        latest, key=lambda r: (order[r.result], r.dataset, r.name)
    )
    assert [r.name for r in checks.latest_results(store, "users")] == ["email_not_null"]
    failing = [r for r in newest_first if r.result in ("fail", "error")]
    assert checks.recent_failures(store, 10) == failing[:10]
    assert checks.results_for_snapshot(store, 7) == [r for r in written if r.snapshot_id == 7]
    assert checks.counts(store) == {
        k: sum(r.result == k for r in latest) for k in ("pass", "warn", "fail", "error")
    }

    conn = store.conn
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert {r["table"] for r in conn.execute("PRAGMA foreign_key_list(check_latest)")} == {
        "checks",
        "check_results",
    }
    assert not conn.execute("SELECT name FROM sqlite_master WHERE name LIKE '%_v3'").fetchall()

    # The upgraded store has exactly the tables and indexes a new store gets.
    fresh = Store(tmp_path / "fresh.db")
    assert _schema(store) == _schema(fresh)
    fresh.close()

    # And it keeps working: a new result is the newest in its history and the latest.
    stored = checks.record_results(
        store, [CheckResult("orders", "amount_range", "range", "fail", "fail", observed="9")]
    )
    history = checks.history(store, "orders", "amount_range", limit=1000)
    assert history[0] == stored[0] == checks.recent_failures(store, 1)[0]
    assert history[1:] == [r for r in newest_first if r.name == "amount_range"]
    assert stored[0] in checks.latest_results(store, "orders")
    store.close()


def _profile(shift: float) -> dict[str, object]:
    sample = [shift + i / 10 for i in range(50)]
    return {
        "format": 2,
        "rows": 50,
        "features": {
            "x": {"kind": "numeric", "count": 50, "sample": sample, "mean": shift + 2.45},
            "c": {"kind": "categorical", "count": 50, "freq": {"a": 30, "b": 20}},
        },
        "target": {"kind": "numeric", "count": 50, "sample": sample},
    }


def _v3_store(path: Path) -> None:
    """A store as Lookout with schema V3 left it: three versions of a model, the first
    profile packed as a BLOB, the second as the JSON text of older releases, the third
    without one, and a drift gate remembered for the second against the first."""
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, path, target=3)
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO models (name, source, task, primary_metric, created_at)"
        " VALUES ('m', 'local', 'regression', 'rmse', 1.7e9)"
    )
    stored = [
        registry.encode_profile(_profile(0.0)),
        json.dumps(_profile(1.0)),
        None,
    ]
    for n, profile in enumerate(stored, start=1):
        conn.execute(
            "INSERT INTO versions (id, model, version, created_at, metrics_json, params_json,"
            " lineage_json, tags_json, artifact_path, artifact_sha256, profile_json)"
            " VALUES (?, 'm', ?, ?, ?, '{}', '{}', '{}', ?, 'f00d', ?)",
            (10 + n, n, 1.7e9 + n, json.dumps({"rmse": 1.0 / n}), f"m/v{n}.joblib", profile),
        )
    conn.execute(
        "INSERT INTO gate_results (candidate_id, against_id, name, settings, passed, detail, at)"
        " VALUES (12, 11, 'drift', '{}', 0, '1 of 2 features drifted', 1.7e9)"
    )
    conn.execute("COMMIT")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
    conn.close()


def test_v3_store_with_profiles_upgrades_in_place(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    _v3_store(path)

    store = Store(path)
    assert store.schema_version() == SCHEMA_VERSION
    columns = [r["name"] for r in store.conn.execute("PRAGMA table_info(versions)")]
    assert "profile" in columns and "profile_json" not in columns
    kinds = store.conn.execute("SELECT typeof(profile) FROM versions ORDER BY version")
    assert [k for (k,) in kinds] == ["blob", "text", "null"]

    assert registry.get_profile(store, "m", 1) == registry.decode_profile(
        registry.encode_profile(_profile(0.0))
    )
    assert registry.get_profile(store, "m", 2) == _profile(1.0)
    assert registry.get_profile(store, "m", 3) is None
    versions = registry.list_versions(store, "m")
    assert [(v.id, v.version, v.metrics, v.artifact_path) for v in versions] == [
        (10 + n, n, {"rmse": 1.0 / n}, f"m/v{n}.joblib") for n in (3, 2, 1)
    ]
    assert registry.remembered_gate(store, "drift", 12, 11, "{}") == Gate(
        "drift", False, "1 of 2 features drifted"
    )

    conn = store.conn
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    fresh = Store(tmp_path / "fresh.db")
    assert _schema(store) == _schema(fresh)
    fresh.close()

    # And it keeps working: a new profile is written to and read from the renamed column.
    registry.set_profile(store, "m", 3, _profile(2.0))
    assert registry.get_profile(store, "m", 3) == registry.decode_profile(
        registry.encode_profile(_profile(2.0))
    )
    store.close()


def test_v6_store_with_logged_batches_upgrades_and_profiles_them(make_workspace) -> None:
    """Batches logged before profiles existed: the upgraded store profiles them from their
    raw rows, reads large windows from those profiles and prunes the raw rows after."""
    import numpy as np
    from lookout.scheduler import drift
    from lookout.scheduler.drift_job import run_drift
    from lookout.scheduler.frame import Frame
    from lookout.scheduler.retention import run_retention
    from lookout.storage import drift as drift_store

    ws = make_workspace(
        '[models.m]\ntask = "regression"\ntarget = "y"\n'
        "[models.m.drift]\nwindow_rows = 3000\nexact_rows = 0\n"
        '[retention]\nraw_rows = "1s"\n'
    )
    path = ws.config.database
    ws.close()
    path.unlink()
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, path, target=6)
    conn.close()
    old = Store(path, readonly=True)  # read-only: nothing migrates, as an older Lookout would
    assert old.schema_version() == 6
    old.close()
    # an older Lookout logged these: rows and layout only (its append had no profiles)
    conn = sqlite3.connect(path, isolation_level=None)
    rng = np.random.default_rng(0)
    import time

    for at in (time.time() - 30, time.time() - 20, time.time() - 10):
        x = rng.normal(0, 1, 1000)
        layout = [{"name": "x", "type": "f8", "offset": 0, "size": x.nbytes}]
        conn.execute(
            "INSERT INTO inference_batches (model, kind, at, rows, columns_json, data)"
            " VALUES ('m', 'inputs', ?, 1000, ?, ?)",
            (at, json.dumps(layout), x.astype("<f8").tobytes()),
        )
    conn.close()

    from lookout.scheduler.workspace import open_workspace

    ws = open_workspace(ws.root)
    assert ws.store.schema_version() == SCHEMA_VERSION
    assert len(drift_store.unprofiled_batches(ws.store)) == 3
    registry.ensure_model(ws.store, "m", "regression", "rmse")
    ref = Frame({"x": rng.normal(0, 1, 5000)}, {"x": "number"})
    registry.register_version(ws.store, "m", profile=drift.build_profile(ref, ["x"]))
    with ws.store.write() as c:
        registry.move_alias(c, "m", "production", 1, kind="promotion", actor="t")
    result = run_drift(ws, "m")
    assert result is not None and result.window["mode"] == "profiles" and result.rows == 3000
    assert result.features[0].level in ("ok", "warn")  # same distribution: never drift
    assert run_retention(ws)["raw_rows"] == 3  # older than 1 s, and profiled now
    again = run_drift(ws, "m")
    assert again is not None and again.rows == 3000 and again.features == result.features


def test_v7_store_with_runs_upgrades_to_v8_and_keeps_its_stages(tmp_path: Path) -> None:
    """V8 rebuilds stage_runs (a stage may end `cancelled`), adds runs.cancelled_by and
    alias_intents; every stage row, and the search over their logs, comes through."""
    path = tmp_path / "v7.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, path, target=7)
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO runs (id, pipeline, status, trigger, triggered_by, created_at, error)"
        " VALUES (3, 'p', 'interrupted', 'manual', 'alice', 1.7e9, 'the scheduler stopped')"
    )
    stages = [
        (30, 3, 0, "ingest", "succeeded", 1.7e9, 1.7e9 + 1, "read 5 rows", '{"rows": 5}', None),
        (31, 3, 1, "train", "interrupted", 1.7e9 + 1, 1.7e9 + 2, "", "{}", "stopped"),
        (32, 3, 2, "register", "skipped", None, None, "", "{}", None),
    ]
    conn.executemany("INSERT INTO stage_runs VALUES (?,?,?,?,?,?,?,?,?,?)", stages)
    conn.execute("COMMIT")
    conn.close()

    before = conn_docs(path)
    assert len(before) == 2  # the two stages with a log or an error

    store = Store(path)
    assert store.schema_version() == SCHEMA_VERSION >= 8
    assert [
        tuple(r)
        for r in store.conn.execute(
            "SELECT id, run_id, position, name, status, started_at, ended_at, log_tail,"
            " metrics_json, error FROM stage_runs ORDER BY id"
        )
    ] == stages
    assert conn_docs(path) == before
    assert search.search(store, "stopped")[0].id == 3
    run = pipelines.get_run(store, 3)
    assert run is not None and run.cancelled_by is None and len(run.stages) == 3
    pipelines.finish_stage(store, 3, "train", "cancelled", error="cancelled by bob")
    assert pipelines.get_run(store, 3).stages[1].status == "cancelled"  # type: ignore[union-attr]
    assert intents.pending(store.conn) == []


def test_v9_store_with_runs_takes_the_unchanged_status_in_place(tmp_path: Path) -> None:
    """V10 widens runs.status without rebuilding `runs` (stage runs, snapshots and check
    results refer to it); a connection that read the V9 schema before the upgrade sees the
    new one too."""
    path = tmp_path / "v10.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    migrate(conn, path, target=9)
    conn.execute("BEGIN")
    for i, status in enumerate(("succeeded", "failed", "interrupted", "queued"), start=1):
        conn.execute(
            "INSERT INTO runs (id, pipeline, status, trigger, triggered_by, created_at, error)"
            " VALUES (?, 'p', ?, 'manual', 'alice', ?, ?)",
            (i, status, 1.7e9 + i, "boom" if status == "failed" else None),
        )
        conn.execute(
            "INSERT INTO stage_runs (run_id, position, name, status, log_tail)"
            " VALUES (?, 0, 'train', 'succeeded', ?)",
            (i, f"fitted run {i}"),
        )
    conn.execute(
        "INSERT INTO snapshots (dataset, created_at, source, rows, columns_json, fingerprint,"
        " run_id) VALUES ('d', 1.7e9, 'd.csv', 3, '{}', 'abc', 1)"
    )
    conn.execute("COMMIT")
    before = conn.execute("SELECT * FROM runs ORDER BY id").fetchall()
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO runs (pipeline, status, trigger, triggered_by, created_at)"
            " VALUES ('p', 'unchanged', 'manual', 'alice', 0)"
        )

    store = Store(path)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    runs = pipelines.list_runs(store, "p")
    assert [(r.id, r.status, r.error, r.forced) for r in reversed(runs)] == [
        (1, "succeeded", None, False),
        (2, "failed", "boom", False),
        (3, "interrupted", None, False),
        (4, "queued", None, False),
    ]
    assert [len(r.stages) for r in runs] == [1, 1, 1, 1]
    assert store.conn.execute("SELECT count(*) FROM snapshots").fetchone()[0] == 1
    assert (
        store.conn.execute("SELECT count(*) FROM search_docs WHERE kind = 'log'").fetchone()[0] == 4
    )
    assert [tuple(r)[:-1] for r in store.conn.execute("SELECT * FROM runs ORDER BY id")] == [
        tuple(r) for r in before
    ]
    pipelines.finish_run(store, 4, "unchanged")
    assert pipelines.get_run(store, 4).status == "unchanged"  # type: ignore[union-attr]
    # the connection that cached the V9 schema reads the new one
    conn.execute(
        "INSERT INTO runs (pipeline, status, trigger, triggered_by, created_at)"
        " VALUES ('p', 'unchanged', 'manual', 'alice', 0)"
    )
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO runs (pipeline, status, trigger, triggered_by, created_at)"
            " VALUES ('p', 'bogus', 'manual', 'alice', 0)"
        )
    conn.close()
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []
    fresh = Store(tmp_path / "fresh.db")
    assert _schema(store) == _schema(fresh)
    fresh.close()
    store.close()


def conn_docs(path: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return [tuple(r) for r in conn.execute("SELECT * FROM search_docs ORDER BY id")]
    finally:
        conn.close()


def test_v10_store_with_events_upgrades_to_state_order(tmp_path: Path) -> None:
    """V11 reads events open first, then acknowledged, then resolved, through one index."""
    path = tmp_path / "v10.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, path, target=10)
    conn.execute("BEGIN")
    rows = [  # id, acked_at, resolved_at
        (1, None, None),
        (2, 5.0, None),
        (3, None, 6.0),
        (4, None, None),
        (5, 7.0, 8.0),
        (6, 9.0, None),
    ]
    for id_, acked, resolved in rows:
        conn.execute(
            "INSERT INTO events (id, at, kind, subject, message, acked_by, acked_at, resolved_at)"
            " VALUES (?, 1.7e9, 'note', 's', 'm', ?, ?, ?)",
            (id_, "bob" if acked else None, acked, resolved),
        )
    conn.execute("COMMIT")
    conn.close()

    store = Store(path)
    assert store.schema_version() == SCHEMA_VERSION
    assert [e.id for e in events.list_events(store)] == [4, 1, 6, 2, 3, 5]
    assert events.count_states(store) == (2, 2)
    plan = " ".join(
        str(tuple(r))
        for r in store.conn.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM events"
            " ORDER BY (resolved_at IS NOT NULL), (acked_at IS NOT NULL), id DESC LIMIT 30"
        )
    )
    assert "events_by_state" in plan and "TEMP B-TREE" not in plan
    fresh = Store(tmp_path / "fresh.db")
    assert _schema(store) == _schema(fresh)
    fresh.close()


def _v11_store(path: Path) -> None:
    """A store as Lookout with schema V11 left it: a finished run and a running one, with
    their stages (one with a log and metrics)."""
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, path, target=11)
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO runs (id, pipeline, status, trigger, triggered_by, created_at, started_at,"
        " ended_at) VALUES (3, 'p', 'failed', 'manual', 'alice', 1.7e9, 1.7e9, 1.7e9 + 9),"
        " (4, 'p', 'running', 'schedule', 'scheduler', 1.7e9 + 60, 1.7e9 + 60, NULL)"
    )
    conn.execute(
        "INSERT INTO stage_runs (id, run_id, position, name, status, started_at, ended_at,"
        " log_tail, metrics_json, error) VALUES"
        " (21, 3, 0, 'ingest', 'succeeded', 1.7e9, 1.7e9 + 2, 'read 10 rows', '{\"rows\": 10}', NULL),"
        " (22, 3, 1, 'train', 'failed', 1.7e9 + 2, 1.7e9 + 9, '', '{}', 'ValueError: boom'),"
        " (23, 4, 0, 'ingest', 'running', 1.7e9 + 60, NULL, '', '{}', NULL),"
        " (24, 4, 1, 'train', 'pending', NULL, NULL, '', '{}', NULL)"
    )
    conn.execute("COMMIT")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 11
    conn.close()


def test_v11_store_with_runs_upgrades_in_place(tmp_path: Path) -> None:
    """V12 rebuilds stage_runs for the task states of mirrored Airflow stages: every stage
    keeps its id, state, log and metrics, and the new states and columns work."""
    path = tmp_path / "v11.db"
    _v11_store(path)

    store = Store(path)
    assert store.schema_version() == SCHEMA_VERSION
    failed, running = pipelines.get_run(store, 3), pipelines.get_run(store, 4)
    assert failed is not None and running is not None
    assert [(s.id, s.name, s.status, s.log_tail, s.metrics, s.error) for s in failed.stages] == [
        (21, "ingest", "succeeded", "read 10 rows", {"rows": 10}, None),
        (22, "train", "failed", "", {}, "ValueError: boom"),
    ]
    assert [(s.id, s.status, s.try_number, s.operator) for s in running.stages] == [
        (23, "running", None, None),
        (24, "pending", None, None),
    ]
    conn = store.conn
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    fresh = Store(tmp_path / "fresh.db")
    assert _schema(store) == _schema(fresh)
    fresh.close()

    with store.write() as conn:
        applied = mirror.apply(
            conn,
            "airflow",
            "dag",
            [
                MirroredRun(
                    "manual__1",
                    "running",
                    "manual",
                    "airflow:admin (ui)",
                    1.7e9 + 120,
                    1.7e9 + 121,
                    None,
                    None,
                    (MirroredStage("wait", 0, "up_for_retry", 1.7e9 + 121, None, 1, "@task"),),
                )
            ],
        )
    assert applied.added == 1
    (run,) = pipelines.list_runs(store, "dag")
    assert [(s.name, s.status, s.try_number, s.operator) for s in run.stages] == [
        ("wait", "up_for_retry", 1, "@task")
    ]
    with pytest.raises(sqlite3.IntegrityError), store.write() as conn:
        conn.execute("UPDATE stage_runs SET status = 'sleeping' WHERE id = 21")
    # Search still follows stage logs: what V11 had indexed, and a log written since.
    assert mirror.set_log(store, run.id, "wait", "ERROR upstream timed out\n")
    assert [h.subject for h in search.search(store, "rows")] == ["p run 3 · ingest"]
    assert [h.subject for h in search.search(store, "timed out")] == [f"dag run {run.id} · wait"]
    store.close()

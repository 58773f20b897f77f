"""Retention: exactly the old rows go, never the latest check result, the audit or what a
pending request refers to; readers and writers keep working while it prunes."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from lookout.scheduler import batches
from lookout.scheduler.retention import run_retention
from lookout.storage import audit, checks, events, registry, retention
from lookout.storage import drift as drift_store
from lookout.storage.db import Store, now
from lookout.storage.records import CheckResult, Gate

DAY = 86400.0
POLICY = {
    "raw_rows": 7 * DAY,
    "profiles": 400 * DAY,
    "check_results": 90 * DAY,
    "drift_results": 400 * DAY,
    "events": 400 * DAY,
}


def _log(store: Store, rows: int = 100, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    return batches.log_batch(store, "m", {"x": rng.normal(size=rows)})


def _result(name: str, result: str, snapshot_id: int | None = None) -> CheckResult:
    return CheckResult("d", name, "range", "fail", result, snapshot_id=snapshot_id)


def test_raw_rows_go_after_their_age_and_profiles_after_theirs(store: Store) -> None:
    ids = [_log(store, seed=i) for i in range(3)]
    assert retention.prune(store, POLICY)["raw_rows"] == 0  # nothing is old yet
    removed = retention.prune(store, POLICY, at=now() + 8 * DAY)
    assert removed["raw_rows"] == 3 and removed["profiles"] == 0
    assert drift_store.recent_batches(store, "m", "inputs") == []
    profiles = drift_store.load_profiles(store, "m")
    assert [p.batch_id for p in profiles] == ids  # a window can still be read
    assert retention.prune(store, POLICY, at=now() + 401 * DAY)["profiles"] == 3
    assert drift_store.load_profiles(store, "m") == []


def test_a_batch_without_a_profile_keeps_its_raw_rows(store: Store) -> None:
    batch = drift_store.append_batch(store, "m", {"x": [1.0, 2.0]})  # stored without a profile
    assert retention.prune(store, POLICY, at=now() + 30 * DAY)["raw_rows"] == 0
    assert batches.profile_backlog(store) == 1
    assert retention.prune(store, POLICY, at=now() + 30 * DAY)["raw_rows"] == 1
    assert [p.batch_id for p in drift_store.load_profiles(store, "m")] == [batch]


def test_check_results_keep_the_latest_and_what_a_pending_request_names(store: Store) -> None:
    snap = checks.record_snapshot(store, "d", "d.csv", 10, {"x": "number"}, "f")
    old = checks.record_results(
        store,
        [_result("a", "pass"), _result("a", "fail"), _result("b", "pass")]
        + [_result("gated", "fail", snap.id)],
    )
    registry.ensure_model(store, "m", "classification", "f1")
    registry.register_version(store, "m", snapshot_id=snap.id)
    with store.write() as conn:
        request = registry.create_request(
            conn, "m", 1, "production", "alice", "ship", [Gate("checks", True, "")], 1
        )
        audit.append(conn, "alice", "promotion.request", "m", "ship")
    removed = retention.prune(store, POLICY, at=now() + 91 * DAY)
    assert removed["check_results"] == 1  # only a's older result
    kept = {r.id for n in ("a", "b", "gated") for r in checks.history(store, "d", n, limit=10)}
    assert kept == {old[1].id, old[2].id, old[3].id}
    assert {r.id for r in checks.latest_results(store)} == {old[1].id, old[2].id, old[3].id}
    # once the request is decided, its snapshot's results may go like any others
    with store.write() as conn:
        conn.execute(
            "UPDATE promotion_requests SET status = 'rejected' WHERE id = ?", (request.id,)
        )
    checks.record_results(store, [_result("gated", "pass")])
    assert retention.prune(store, POLICY, at=now() + 91 * DAY)["check_results"] == 1
    assert len(audit.entries(store)) == 1 and audit.verify(store).verified


def test_events_go_with_their_deliveries_but_open_conditions_stay(store: Store) -> None:
    with store.write() as conn:
        done = events.raise_event(conn, "run_failed", "p", "failed")
        ongoing = events.raise_event(conn, "drift", "m", "drifted", "warn", "drift:m")
        conn.execute(
            "INSERT INTO deliveries (event_id, target, status, at) VALUES (?, 'hook', 'delivered', ?)",
            (done.id, now()),
        )
    removed = retention.prune(store, POLICY, at=now() + 401 * DAY)
    assert removed["events"] == 1 and removed["deliveries"] == 0
    assert [e.id for e in events.list_events(store)] == [ongoing.id]


def test_drift_results_keep_each_models_latest(store: Store) -> None:
    with store.write() as conn:
        for model in ("a", "a", "b"):
            drift_store.record_result(conn, model, 1, "ok", 0.0, 10, {}, [])
    assert retention.prune(store, POLICY, at=now() + 401 * DAY)["drift_results"] == 1
    assert [r.model for r in drift_store.latest_each(store)] == ["a", "b"]


def test_pruning_hands_space_back_to_the_file_system(store: Store) -> None:
    assert retention.store_stats(store)["auto_vacuum"] == "incremental"
    for i in range(6):
        _log(store, rows=200_000, seed=i)
    checks.record_results(store, [_result("a", "fail") for _ in range(20_000)])
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before, file_before = retention.store_stats(store)["bytes"], store.path.stat().st_size
    removed = retention.prune(store, POLICY, at=now() + 100 * DAY)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert removed["raw_rows"] == 6 and removed["check_results"] == 19_999
    assert removed["pages_freed"] > 0 and store.path.stat().st_size < file_before
    assert list(drift_store.batch_folder(store).iterdir()) == []  # the rows' files unlinked
    stats = retention.store_stats(store)
    assert stats["bytes"] < before / 4
    assert stats["oldest"]["raw_rows"] is None and stats["oldest"]["profiles"] is not None


def test_a_reader_and_a_writer_keep_working_while_pruning_runs(tmp_path) -> None:
    path = tmp_path / "lookout.db"
    store = Store(path)
    for i in range(40):
        _log(store, rows=100_000, seed=i)
    checks.record_results(store, [_result("a", "pass")])
    reader = Store(path, readonly=True)
    writer = Store(path)
    done = threading.Event()
    reads: list[float] = []
    writes: list[float] = []

    def prune() -> None:
        try:
            retention.prune(store, POLICY, at=now() + 8 * DAY)
        finally:
            done.set()

    thread = threading.Thread(target=prune)
    thread.start()
    while not done.is_set() or not reads:
        t = time.perf_counter()
        assert [r.name for r in checks.latest_results(reader)] == ["a"]
        assert len(drift_store.load_profiles(reader, "m")) == 40
        reads.append(time.perf_counter() - t)
        t = time.perf_counter()
        with writer.write() as conn:
            events.raise_event(conn, "note", "x", "still writable")
        writes.append(time.perf_counter() - t)
    thread.join()
    assert drift_store.recent_batches(reader, "m", "inputs") == []
    assert max(reads) < 1.0 and max(writes) < 2.0
    for s in (store, reader, writer):
        s.close()


def test_the_daemon_pass_profiles_the_backlog_then_prunes(make_workspace) -> None:
    ws = make_workspace('[retention]\nraw_rows = "1s"\n')
    drift_store.append_batch(ws.store, "m", {"x": [1.0, 2.0, 3.0]})
    with ws.store.write() as conn:  # logged two seconds ago: past raw_rows, without waiting
        conn.execute("UPDATE inference_batches SET at = at - 2")
    out = run_retention(ws)
    assert out["profiled"] == 1 and out["raw_rows"] == 1
    assert drift_store.load_profiles(ws.store, "m")[0].rows == 3


def test_status_json_reports_the_store(ws, cli) -> None:
    res = cli("status", "--json", "--workspace", str(ws.root))
    store = res.json()["store"]
    assert store["bytes"] > 0 and set(store["oldest"]) >= {
        "raw_rows",
        "profiles",
        "check_results",
        "drift_results",
        "events",
        "audit",
    }


@pytest.mark.parametrize("bad", ['raw_rows = "soon"', "events = -1"])
def test_bad_retention_settings_name_the_key(make_workspace, bad) -> None:
    from lookout.scheduler.config import ConfigError, parse

    with pytest.raises(ConfigError, match=r"retention\.(raw_rows|events): expected a duration"):
        parse(f"[retention]\n{bad}\n", make_workspace("").root / "lookout.toml")

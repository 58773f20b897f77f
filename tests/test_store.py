"""The store: pragmas, migrations, concurrency, the audit chain, file modes."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from lookout.storage import audit, checks, events
from lookout.storage.db import Store, StoreError, migrate
from lookout.storage.records import CheckResult
from lookout.storage.schema import MIGRATIONS, SCHEMA_VERSION


def test_new_store_has_pragmas_and_current_schema(store: Store) -> None:
    conn = store.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    assert store.schema_version() == SCHEMA_VERSION


def test_new_store_file_is_private(tmp_path: Path) -> None:
    Store(tmp_path / "a.db").close()
    assert stat.S_IMODE(os.stat(tmp_path / "a.db").st_mode) == 0o600


def test_new_store_file_is_group_shared_when_a_group_is_named(tmp_path: Path) -> None:
    import grp

    group = grp.getgrgid(os.getgid()).gr_name
    Store(tmp_path / "g.db", group=group).close()
    st = os.stat(tmp_path / "g.db")
    assert stat.S_IMODE(st.st_mode) == 0o660
    assert st.st_gid == os.getgid()


def test_unknown_group_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="group 'no-such-group-x' does not exist"):
        Store(tmp_path / "g.db", group="no-such-group-x")


@pytest.mark.parametrize("start", range(SCHEMA_VERSION))
def test_migrates_from_every_earlier_version_keeping_data(tmp_path: Path, start: int) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, path, target=start)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == start
    if start >= 1:
        conn.execute(
            "INSERT INTO events (at, kind, subject, message) VALUES (1.0, 'note', 's', 'kept')"
        )
    conn.close()
    s = Store(path)
    assert s.schema_version() == SCHEMA_VERSION
    if start >= 1:
        assert [e.message for e in events.list_events(s)] == ["kept"]
    # every table of the newest schema exists and is usable
    tables = {r[0] for r in s.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"deliveries", "external_state", "audit", "runs", "check_results"} <= tables
    s.close()


def test_each_migration_applies_on_its_own(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    for version in range(1, len(MIGRATIONS) + 1):
        migrate(conn, "m.db", target=version)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == version
    conn.close()


def test_store_from_a_newer_lookout_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="upgrade Lookout"):
        Store(path)
    with pytest.raises(StoreError, match="upgrade Lookout"):
        Store(path, readonly=True)


def test_garbage_file_is_not_a_store(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a Lookout store"):
        Store(path)


def test_readonly_store_refuses_writes(tmp_path: Path) -> None:
    Store(tmp_path / "r.db").close()
    ro = Store(tmp_path / "r.db", readonly=True)
    with pytest.raises(StoreError, match="read-only"), ro.write():
        pass


def test_write_rolls_back_on_error(store: Store) -> None:
    with pytest.raises(ValueError), store.write() as conn:
        events.raise_event(conn, "note", "s", "lost")
        raise ValueError
    assert events.list_events(store) == []


def test_nested_write_joins_the_outer_transaction(store: Store) -> None:
    with pytest.raises(ValueError), store.write():
        events.record(store, "note", "s", "inner")  # nested write()
        raise ValueError
    assert events.list_events(store) == []


def test_data_version_changes_when_another_connection_commits(tmp_path: Path) -> None:
    a, b = Store(tmp_path / "d.db"), Store(tmp_path / "d.db")
    before = a.data_version()
    events.record(b, "note", "s", "m")
    assert a.data_version() != before
    a.close()
    b.close()


WRITER = """
import sys
from lookout.storage.db import Store
from lookout.storage import events, audit
s = Store(sys.argv[1])
for i in range(int(sys.argv[3])):
    with s.write() as conn:
        events.raise_event(conn, "note", sys.argv[2], str(i))
        audit.append(conn, "w", "note", sys.argv[2], "r")
"""


def test_processes_and_threads_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    store = Store(path)
    n = 150
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"p{i}", str(n)])
        for i in range(2)
    ]
    errors: list[BaseException] = []

    def thread_writer(tag: str) -> None:
        try:
            for i in range(n):
                with store.write() as conn:
                    events.raise_event(conn, "note", tag, str(i))
                    audit.append(conn, "w", "note", tag, "r")
        except BaseException as exc:  # pragma: no cover - the assertion reports it
            errors.append(exc)

    threads = [threading.Thread(target=thread_writer, args=(f"t{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for p in procs:
        assert p.wait(timeout=120) == 0
    assert errors == []
    count = store.conn.execute("SELECT count(*) FROM events").fetchone()[0]
    assert count == 5 * n
    assert audit.verify(store).verified
    store.close()


# -- the audit chain ----------------------------------------------------------------


def _chain(store: Store, n: int = 5) -> None:
    for i in range(n):
        with store.write() as conn:
            audit.append(conn, "alice", "promote", f"m{i}", f"reason {i}", {"to": i})


def test_audit_chain_verifies(store: Store) -> None:
    _chain(store)
    result = audit.verify(store)
    assert result.verified and result.first_bad is None and result.entries == 5
    assert [e.seq for e in audit.entries(store)] == [5, 4, 3, 2, 1]


def test_audit_append_outside_a_transaction_is_a_bug(store: Store) -> None:
    with pytest.raises(RuntimeError):
        audit.append(store.conn, "a", "b", "c", "d")


def test_triggers_refuse_update_and_delete(store: Store) -> None:
    _chain(store, 2)
    with pytest.raises(sqlite3.IntegrityError, match="cannot be changed"):
        store.conn.execute("UPDATE audit SET reason = 'x' WHERE seq = 1")
    with pytest.raises(sqlite3.IntegrityError, match="cannot be deleted"):
        store.conn.execute("DELETE FROM audit WHERE seq = 1")


def _drop_triggers(store: Store) -> None:
    store.conn.execute("DROP TRIGGER audit_no_update")
    store.conn.execute("DROP TRIGGER audit_no_delete")


def test_edited_entry_is_named(store: Store) -> None:
    _chain(store)
    _drop_triggers(store)
    store.conn.execute("UPDATE audit SET reason = 'nothing to see' WHERE seq = 3")
    result = audit.verify(store)
    assert not result.verified and result.first_bad == 3
    assert "altered" in (result.problem or "")


def test_edited_entry_with_recomputed_hash_breaks_the_next_link(store: Store) -> None:
    _chain(store)
    _drop_triggers(store)
    row = store.conn.execute("SELECT * FROM audit WHERE seq = 2").fetchone()
    forged = audit.entry_hash(
        row["prev_hash"],
        2,
        row["at"],
        "mallory",
        row["action"],
        row["subject"],
        row["reason"],
        {"to": 1},
    )
    store.conn.execute("UPDATE audit SET actor = 'mallory', hash = ? WHERE seq = 2", (forged,))
    result = audit.verify(store)
    assert not result.verified and result.first_bad == 3


def test_deleted_entry_is_named(store: Store) -> None:
    _chain(store)
    _drop_triggers(store)
    store.conn.execute("DELETE FROM audit WHERE seq = 2")
    result = audit.verify(store)
    assert not result.verified and result.first_bad == 2
    assert "missing" in (result.problem or "")


# -- events and checks queries ---------------------------------------------------------


def test_dedup_key_pages_once_until_resolved(store: Store) -> None:
    first = events.record(store, "check_failed", "ds.c", "bad", "error", dedup_key="k")
    again = events.record(store, "check_failed", "ds.c", "still bad", "error", dedup_key="k")
    assert again.id == first.id
    with store.write() as conn:
        assert events.resolve(conn, "k") == 1
    third = events.record(store, "check_failed", "ds.c", "bad again", "error", dedup_key="k")
    assert third.id != first.id


def test_unacknowledged_events_come_first(store: Store) -> None:
    a = events.record(store, "note", "a", "first")
    b = events.record(store, "note", "b", "second")
    events.acknowledge(store, b.id, "bob", "looked")
    listed = events.list_events(store)
    assert [e.id for e in listed] == [a.id, b.id]
    assert listed[1].acked_by == "bob" and listed[1].ack_note == "looked"
    assert events.count_open(store) == 1


def test_acknowledging_a_missing_event_is_a_lookup_error(store: Store) -> None:
    with pytest.raises(LookupError):
        events.acknowledge(store, 999, "bob")


def test_latest_check_results_put_failures_first(store: Store) -> None:
    results = [
        CheckResult("ds", "a", "range", "fail", "pass"),
        CheckResult("ds", "b", "range", "warn", "warn"),
        CheckResult("ds", "c", "range", "fail", "fail", observed="12"),
        CheckResult("ds", "d", "range", "fail", "error", message="column missing"),
    ]
    checks.record_results(store, results)
    assert [r.name for r in checks.latest_results(store)] == ["c", "d", "b", "a"]
    assert checks.counts(store) == {"pass": 1, "warn": 1, "fail": 1, "error": 1}
    assert [r.name for r in checks.recent_failures(store)] == ["d", "c"]


def test_check_examples_are_sanitized_and_capped(store: Store) -> None:
    hostile = "\x1b]52;c;aGk=\x07[bold]x\x1b[31m" + "y" * 500
    stored = checks.record_results(
        store, [CheckResult("ds", "a", "range", "fail", "fail", examples=(hostile,) * 30)]
    )
    row = checks.history(store, "ds", "a")[0]
    assert stored[0].id == row.id
    assert len(row.examples) == 20
    assert all("\x1b" not in e and len(e) <= 80 for e in row.examples)
    assert row.examples[0].startswith("[bold]x")


def test_a_resolved_event_no_longer_counts_as_open(store: Store) -> None:
    paged = events.record(store, "check_failed", "ds.c", "bad", "error", dedup_key="k")
    later = events.record(store, "note", "x", "newer")
    assert events.count_open(store) == 2
    with store.write() as conn:
        events.resolve(conn, "k")
    assert events.count_open(store) == 1
    assert [e.id for e in events.list_events(store)] == [later.id, paged.id]


def test_bulk_loaded_results_read_back_as_recorded_ones(tmp_path: Path) -> None:
    """insert_history stores what record_results stores, whichever columns a batch leaves NULL."""

    def result(i: int, snapshot: int) -> CheckResult:
        mixed = 2000 <= i < 4000
        return CheckResult(
            f"ds{i % 3}",
            f"c{i % 7}",
            "range",
            "fail",
            ("pass", "fail", "error", "warn")[i % 4],
            # Statements carry 2000 rows. The first has every observed value and no
            # threshold or snapshot; the second mixes values with NULLs; the third has none.
            observed=None if i >= 4000 or (mixed and i % 2) else f"{i}",
            threshold=f"< {i}" if mixed and i % 3 else None,
            examples=("bad\x1b[31m row",) if i % 4 else (),
            message="column missing" if i % 4 == 2 else "",
            snapshot_id=snapshot if mixed and i % 5 == 0 else None,
            at=1.7e9 + i,
        )

    stores = []
    for name in ("bulk", "each"):
        s = Store(tmp_path / f"{name}.db")
        snapshot = checks.record_snapshot(s, "ds0", "f.csv", 10, {"x": "int"}, "fp").id
        stores.append((s, [result(i, snapshot) for i in range(4500)]))
    (bulk, rows), (each, same_rows) = stores
    assert checks.insert_history(bulk, rows) == 4500
    recorded = checks.record_results(each, same_rows)

    def table(s: Store) -> list[tuple[object, ...]]:
        return [tuple(r) for r in s.conn.execute("SELECT * FROM check_results ORDER BY id")]

    assert table(bulk) == table(each)
    assert checks.history(bulk, "ds0", "c3", limit=5000) == sorted(
        (r for r in recorded if (r.dataset, r.name) == ("ds0", "c3")), key=lambda r: -(r.id or 0)
    )
    assert len(checks.results_for_snapshot(bulk, rows[2000].snapshot_id or 0)) == 2000 // 5
    bulk.close()
    each.close()


def _plan(store: Store, read: Callable[[], object]) -> str:
    """The query plan of the statement `read` runs (traced with its values bound)."""
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    try:
        read()
    finally:
        store.conn.set_trace_callback(None)
    [sql] = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    return " / ".join(r["detail"] for r in store.conn.execute("EXPLAIN QUERY PLAN " + sql))


def test_check_history_queries_walk_their_indexes(store: Store) -> None:
    """'Latest failing' and one check's history read an index backwards: no sort, no scan."""
    checks.record_results(store, [CheckResult("ds", "c", "range", "fail", "fail")])
    failing = _plan(store, lambda: checks.recent_failures(store, 50))
    by_check = _plan(store, lambda: checks.history(store, "ds", "c", 100))
    assert failing.startswith("SCAN r USING INDEX check_results_failing /")
    assert "SEARCH r USING INDEX check_results_by_check (check_id=?)" in by_check
    assert "TEMP B-TREE" not in failing + by_check
    assert "SCAN" not in by_check


def test_check_results_still_refuse_unknown_outcomes(store: Store) -> None:
    checks.record_results(store, [CheckResult("d", "c", "range", "warn", "pass")])
    insert = (
        "INSERT INTO check_results (check_id, kind, severity, result, at)"
        " VALUES (1, 'range', ?, ?, 1.0)"
    )
    store.conn.execute(insert, ("warn", "error"))
    for severity, result in [("warn", "ok"), ("warn", "Pass"), ("error", "pass")]:
        with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
            store.conn.execute(insert, (severity, result))

"""Search: every writer keeps the index current, hits come newest first with what they
belong to, and a store from before search gets its history indexed when it upgrades."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from lookout.storage import audit, checks, events, pipelines, search
from lookout.storage.db import Store, migrate
from lookout.storage.records import CheckResult


def _kinds(hits: list[search.Hit]) -> list[tuple[str, int]]:
    return [(h.kind, h.id) for h in hits]


def test_events_logs_checks_and_audit_reasons_are_found_by_their_words(store: Store) -> None:
    run = pipelines.create_run(store, "wine_train", ["load", "train"], "manual", "alice")
    pipelines.start_stage(store, run.id, "load")
    pipelines.finish_stage(
        store, run.id, "load", "failed", "reading s3://bucket/wine.csv\nconnection reset by peer"
    )
    [failed] = checks.record_results(
        store,
        [
            CheckResult(
                "wine",
                "ph_range",
                "range",
                "fail",
                "fail",
                examples=("row 17: ph=-3.1",),
                message="2 rows outside [0, 14]",
            )
        ],
    )
    with store.write() as conn:
        audit.append(conn, "bob", "rollback", "churn", "calibration broke after the feeder restart")
    pipelines.finish_run(store, run.id, "failed", "stage load: connection reset by peer")

    [log_hit] = search.search(store, "peer bucket")
    assert (log_hit.kind, log_hit.id, log_hit.subject) == (
        "log",
        run.id,
        f"wine_train run {run.id} · load",
    )
    # The text shown is a line that matched, not the log's first line.
    assert log_hit.text == "connection reset by peer"
    assert search.search(store, "bucket")[0].text == "reading s3://bucket/wine.csv"

    [check_hit] = search.search(store, "ph=-3.1")
    assert (check_hit.kind, check_hit.id, check_hit.subject) == (
        "check",
        failed.id,
        "wine.ph_range",
    )

    [audit_hit] = search.search(store, "feeder")
    assert (audit_hit.kind, audit_hit.subject) == ("audit", "churn")
    assert audit_hit.text == "bob rollback: calibration broke after the feeder restart"

    # The run's failure is an event, its log says the same: both, newest first.
    assert [h.kind for h in search.search(store, "reset")] == ["event", "log"]
    # Case, accents and prefixes.
    assert _kinds(search.search(store, "CALIBRÁTION")) == _kinds([audit_hit])
    assert _kinds(search.search(store, "calib*")) == _kinds([audit_hit])
    # Every word must match, in the subject or the text; a phrase keeps its order.
    assert search.search(store, "feeder wine") == []
    assert [h.kind for h in search.search(store, "wine ph_range")] == ["event", "check"]
    assert search.search(store, '"peer reset"') == []
    assert len(search.search(store, '"reset by peer"')) == 2


def test_newest_first_and_limited(store: Store) -> None:
    for n in range(30):
        events.record(store, "run_failed", f"p{n}", f"run {n} failed: out of memory")
    hits = search.search(store, "memory", limit=10)
    assert [h.subject for h in hits] == [f"p{n}" for n in range(29, 19, -1)]
    assert [h.at for h in hits] == sorted((h.at for h in hits), reverse=True)


def test_history_recorded_out_of_order_is_shown_by_when_it_happened(store: Store) -> None:
    with store.write() as conn:
        late = events.raise_event(conn, "drift", "churn", "churn drifted (backfilled)", at=2000.0)
        early = events.raise_event(conn, "drift", "churn", "churn drifted again", at=1000.0)
    assert [h.id for h in search.search(store, "drifted")] == [late.id, early.id]


def test_updates_follow_the_rows(store: Store) -> None:
    run = pipelines.create_run(store, "etl", ["extract"], "manual", "alice")
    pipelines.start_stage(store, run.id, "extract")
    pipelines.set_stage_log(store, run.id, "extract", "fetching page 1")
    assert len(search.search(store, "page")) == 1
    # A live tail replaces what was indexed: old words go, new ones come.
    pipelines.set_stage_log(store, run.id, "extract", "fetching page 2\nrate limited by upstream")
    assert search.search(store, "limited")[0].id == run.id
    pipelines.finish_stage(store, run.id, "extract", "succeeded", "done: 40 pages")
    assert search.search(store, "upstream") == []
    assert len(search.search(store, "pages")) == 1

    # An acknowledgement's note becomes searchable on its event.
    e = events.record(store, "check_failed", "wine.ph", "ph out of range", "error", "k")
    events.acknowledge(store, e.id, "carol", "vendor sent a bad batch, reloading")
    [hit] = search.search(store, "vendor")
    assert (hit.kind, hit.id) == ("event", e.id)
    assert "carol: vendor sent a bad batch" in hit.text

    # Deleting a row (retention) takes it out of search.
    with store.write() as conn:
        conn.execute("DELETE FROM events WHERE id = ?", (e.id,))
        conn.execute("DELETE FROM runs WHERE id = ?", (run.id,))
    assert search.search(store, "vendor") == []
    assert search.search(store, "pages") == []
    assert search.indexed(store)["log"] == 0


def test_passing_checks_are_not_indexed(store: Store) -> None:
    checks.record_results(store, [CheckResult("wine", "rows", "row_count", "fail", "pass")])
    assert search.indexed(store)["check"] == 0


@pytest.mark.parametrize(
    "text", ["ph AND NOT wine", "NEAR(a b)", "subject:wine", "(x", '"unbalanced', "a OR b*"]
)
def test_query_syntax_is_searched_for_not_obeyed(store: Store, text: str) -> None:
    events.record(store, "drift", "wine", "a b subject wine ph x unbalanced")
    assert search.search(store, text) is not None  # no error, whatever it finds


def test_empty_query_is_refused_in_one_line(store: Store) -> None:
    with pytest.raises(search.SearchError, match="give at least one word"):
        search.search(store, " ¿? ")


def test_store_from_before_search_is_indexed_when_it_upgrades(tmp_path: Path) -> None:
    path = tmp_path / "v5.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, path, target=5)
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO events (at, kind, severity, subject, message, acked_by, acked_at, ack_note)"
        " VALUES (100, 'drift', 'warn', 'churn', 'churn drifted', 'dave', 101, 'expected: holiday')"
    )
    conn.execute(
        "INSERT INTO runs (id, pipeline, status, trigger, triggered_by, created_at)"
        " VALUES (5, 'etl', 'failed', 'manual', 'alice', 50)"
    )
    conn.execute(
        "INSERT INTO stage_runs (run_id, position, name, status, started_at, ended_at, log_tail)"
        " VALUES (5, 0, 'extract', 'failed', 51, 52, 'disk quota exceeded')"
    )
    conn.execute("INSERT INTO checks (id, dataset, name) VALUES (1, 'wine', 'ph')")
    conn.execute(
        "INSERT INTO check_results (check_id, kind, severity, result, examples_json, message, at)"
        " VALUES (1, 'range', 'fail', 'fail', '[\"row 3: 99\"]', 'out of range', 60)"
    )
    conn.execute(
        "INSERT INTO check_results (check_id, kind, severity, result, message, at)"
        " VALUES (1, 'range', 'fail', 'pass', 'range fine', 70)"
    )
    conn.execute(
        "INSERT INTO audit (seq, at, actor, action, subject, reason, prev_hash, hash)"
        " VALUES (1, 40, 'bob', 'promote', 'churn', 'better recall', '0', 'h')"
    )
    conn.execute("COMMIT")
    conn.close()

    store = Store(path)
    assert search.indexed(store) == {"event": 1, "log": 1, "check": 1, "audit": 1}
    assert _kinds(search.search(store, "holiday")) == [("event", 1)]
    assert _kinds(search.search(store, "quota")) == [("log", 5)]
    assert _kinds(search.search(store, "range")) == [("check", 1)]
    assert _kinds(search.search(store, "recall")) == [("audit", 1)]
    # Oldest first as indexed, so newest first as searched.
    assert [h.kind for h in search.search(store, "churn")] == ["event", "audit"]
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store.conn.execute("INSERT INTO search (search) VALUES ('integrity-check')")  # raises if off
    store.close()


def test_cli_search(make_workspace, cli) -> None:
    ws = make_workspace()
    events.record(ws.store, "run_failed", "wine_train", "run 3 failed: CUDA out of memory", "error")

    r = cli("search", "-w", str(ws.root), "--json", "cuda", "memory")
    assert r.code == 0, r.err
    [hit] = r.json()["results"]
    assert set(hit) == {"kind", "id", "at", "subject", "text"}
    assert (hit["kind"], hit["subject"]) == ("event", "wine_train")
    assert hit["at"].endswith("Z")

    r = cli("search", "-w", str(ws.root), "cuda")
    assert r.code == 0 and "wine_train" in r.out and "event 1" in r.out
    assert cli("search", "-w", str(ws.root), "nothing-like-it").out == "nothing found\n"
    bad = cli("search", "-w", str(ws.root), "*")
    assert bad.code == 2 and bad.err.count("\n") == 1 and "give at least one word" in bad.err


def test_a_long_line_is_cut_around_the_match() -> None:
    line = "x" * 500 + " Überlauf detected " + "y" * 500
    shown = search.excerpt("first line\n" + line, search._terms("überlauf"))  # noqa: SLF001
    assert len(shown) <= search.EXCERPT + 1 and "Überlauf detected" in shown
    assert shown.startswith("…")

"""The store's schema as an ordered list of migrations.

`PRAGMA user_version` holds how many migrations a store has had. Migrations
are only ever appended; each is a list of statements (rarely a function, `Step`) run in
one transaction.
Times are REAL seconds since the epoch (UTC); JSON columns hold plain objects.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

# A migration step: a statement, or a function for the rare change SQL alone cannot say.
Step = str | Callable[[sqlite3.Connection], None]

V1 = [
    # -- pipelines, runs, stages ------------------------------------------------
    """CREATE TABLE pipelines (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        model TEXT,
        dataset TEXT,
        config_json TEXT NOT NULL DEFAULT '{}',
        next_run_at REAL,
        updated_at REAL NOT NULL
    )""",
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        pipeline TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN
            ('queued','running','succeeded','failed','cancelled','interrupted')),
        trigger TEXT NOT NULL,
        triggered_by TEXT NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 1,
        created_at REAL NOT NULL,
        started_at REAL,
        ended_at REAL,
        error TEXT,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        job_run_id INTEGER REFERENCES job_runs(id),
        retry_of INTEGER REFERENCES runs(id)
    )""",
    "CREATE INDEX runs_by_pipeline ON runs (pipeline, id DESC)",
    "CREATE INDEX runs_by_status ON runs (status, id)",
    """CREATE TABLE stage_runs (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN
            ('pending','running','succeeded','failed','skipped','interrupted')),
        started_at REAL,
        ended_at REAL,
        log_tail TEXT NOT NULL DEFAULT '',
        metrics_json TEXT NOT NULL DEFAULT '{}',
        error TEXT,
        UNIQUE (run_id, name)
    )""",
    # -- datasets and checks ----------------------------------------------------
    """CREATE TABLE snapshots (
        id INTEGER PRIMARY KEY,
        dataset TEXT NOT NULL,
        created_at REAL NOT NULL,
        source TEXT NOT NULL,
        rows INTEGER NOT NULL,
        columns_json TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        run_id INTEGER REFERENCES runs(id)
    )""",
    "CREATE INDEX snapshots_by_dataset ON snapshots (dataset, id DESC)",
    """CREATE TABLE check_results (
        id INTEGER PRIMARY KEY,
        dataset TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        severity TEXT NOT NULL CHECK (severity IN ('warn','fail')),
        result TEXT NOT NULL CHECK (result IN ('pass','warn','fail','error')),
        observed TEXT,
        threshold TEXT,
        rows_examined INTEGER NOT NULL DEFAULT 0,
        failing_rows INTEGER NOT NULL DEFAULT 0,
        examples_json TEXT NOT NULL DEFAULT '[]',
        message TEXT NOT NULL DEFAULT '',
        snapshot_id INTEGER REFERENCES snapshots(id),
        run_id INTEGER REFERENCES runs(id),
        at REAL NOT NULL
    )""",
    "CREATE INDEX check_results_by_check ON check_results (dataset, name, id DESC)",
    # Partial indexes: most results pass, and only failures are looked up by result.
    "CREATE INDEX check_results_failing ON check_results (id DESC)"
    " WHERE result IN ('fail','error')",
    "CREATE INDEX check_results_by_snapshot ON check_results (snapshot_id)"
    " WHERE snapshot_id IS NOT NULL",
    # The latest result of each check, kept beside the history so panes never scan it.
    """CREATE TABLE check_latest (
        dataset TEXT NOT NULL,
        name TEXT NOT NULL,
        result_id INTEGER NOT NULL REFERENCES check_results(id),
        PRIMARY KEY (dataset, name)
    )""",
    # -- models, versions, aliases, promotion ----------------------------------
    """CREATE TABLE models (
        name TEXT PRIMARY KEY,
        source TEXT NOT NULL DEFAULT 'local',
        task TEXT NOT NULL DEFAULT 'classification',
        primary_metric TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL
    )""",
    """CREATE TABLE versions (
        id INTEGER PRIMARY KEY,
        model TEXT NOT NULL REFERENCES models(name),
        version INTEGER NOT NULL,
        created_at REAL NOT NULL,
        metrics_json TEXT NOT NULL DEFAULT '{}',
        params_json TEXT NOT NULL DEFAULT '{}',
        lineage_json TEXT NOT NULL DEFAULT '{}',
        tags_json TEXT NOT NULL DEFAULT '{}',
        artifact_path TEXT,
        artifact_sha256 TEXT,
        snapshot_id INTEGER REFERENCES snapshots(id),
        run_id INTEGER REFERENCES runs(id),
        profile_json TEXT,
        UNIQUE (model, version)
    )""",
    """CREATE TABLE aliases (
        model TEXT NOT NULL REFERENCES models(name),
        alias TEXT NOT NULL,
        version INTEGER NOT NULL,
        set_at REAL NOT NULL,
        set_by TEXT NOT NULL,
        PRIMARY KEY (model, alias)
    )""",
    """CREATE TABLE alias_transitions (
        id INTEGER PRIMARY KEY,
        model TEXT NOT NULL,
        alias TEXT NOT NULL,
        from_version INTEGER,
        to_version INTEGER,
        kind TEXT NOT NULL CHECK (kind IN ('promotion','rollback','external','register')),
        actor TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        request_id INTEGER REFERENCES promotion_requests(id),
        at REAL NOT NULL
    )""",
    "CREATE INDEX alias_transitions_by_model ON alias_transitions (model, alias, id DESC)",
    """CREATE TABLE promotion_requests (
        id INTEGER PRIMARY KEY,
        model TEXT NOT NULL,
        version INTEGER NOT NULL,
        alias TEXT NOT NULL,
        from_version INTEGER,
        status TEXT NOT NULL CHECK (status IN
            ('pending','approved','rejected','superseded','cancelled')),
        requested_by TEXT NOT NULL,
        requested_at REAL NOT NULL,
        reason TEXT NOT NULL,
        gates_json TEXT NOT NULL DEFAULT '[]',
        approvals_required INTEGER NOT NULL DEFAULT 1,
        decided_at REAL,
        decided_by TEXT,
        kind TEXT NOT NULL DEFAULT 'promotion' CHECK (kind IN ('promotion','rollback'))
    )""",
    "CREATE INDEX promotion_requests_by_status ON promotion_requests (status, id DESC)",
    "CREATE INDEX promotion_requests_by_model ON promotion_requests (model, id DESC)",
    """CREATE TABLE approvals (
        id INTEGER PRIMARY KEY,
        request_id INTEGER NOT NULL REFERENCES promotion_requests(id),
        actor TEXT NOT NULL,
        decision TEXT NOT NULL CHECK (decision IN ('approve','reject')),
        reason TEXT NOT NULL,
        override INTEGER NOT NULL DEFAULT 0,
        at REAL NOT NULL,
        UNIQUE (request_id, actor)
    )""",
    # A costly gate's result for one candidate against one production version, so any
    # process promoting it later reuses what the registering pipeline computed.
    """CREATE TABLE gate_results (
        candidate_id INTEGER NOT NULL REFERENCES versions(id),
        against_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        settings TEXT NOT NULL,
        passed INTEGER NOT NULL,
        detail TEXT NOT NULL,
        at REAL NOT NULL,
        PRIMARY KEY (candidate_id, against_id, name, settings)
    )""",
    # -- drift --------------------------------------------------------------------
    """CREATE TABLE inference_batches (
        id INTEGER PRIMARY KEY,
        model TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('inputs','labels')),
        at REAL NOT NULL,
        rows INTEGER NOT NULL,
        first_ts REAL,
        last_ts REAL,
        columns_json TEXT NOT NULL,
        data BLOB NOT NULL
    )""",
    "CREATE INDEX inference_batches_by_model ON inference_batches (model, kind, id DESC)",
    """CREATE TABLE drift_results (
        id INTEGER PRIMARY KEY,
        model TEXT NOT NULL,
        version INTEGER,
        at REAL NOT NULL,
        level TEXT NOT NULL CHECK (level IN ('ok','warn','drift','error')),
        share REAL NOT NULL,
        rows INTEGER NOT NULL,
        window_json TEXT NOT NULL DEFAULT '{}',
        features_json TEXT NOT NULL DEFAULT '[]',
        prediction_json TEXT NOT NULL DEFAULT '{}',
        performance_json TEXT NOT NULL DEFAULT '{}',
        error TEXT
    )""",
    "CREATE INDEX drift_results_by_model ON drift_results (model, id DESC)",
    # -- events and audit -------------------------------------------------------
    """CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        severity TEXT NOT NULL DEFAULT 'info' CHECK (severity IN ('info','warn','error')),
        subject TEXT NOT NULL,
        message TEXT NOT NULL,
        dedup_key TEXT,
        resolved_at REAL,
        acked_by TEXT,
        acked_at REAL,
        ack_note TEXT
    )""",
    # Open (neither acknowledged nor resolved) first: the order of the events strip.
    "CREATE INDEX events_by_open ON events"
    " ((acked_at IS NOT NULL OR resolved_at IS NOT NULL), id DESC)",
    # One open event per de-duplication key: a failing check pages once.
    "CREATE UNIQUE INDEX events_open_key ON events (dedup_key) "
    "WHERE dedup_key IS NOT NULL AND resolved_at IS NULL",
    """CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL,
        reason TEXT NOT NULL,
        details_json TEXT NOT NULL DEFAULT '{}',
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    )""",
    """CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit entries cannot be changed'); END""",
    """CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit entries cannot be deleted'); END""",
    # -- scheduler ----------------------------------------------------------------
    """CREATE TABLE lease (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        since REAL NOT NULL,
        heartbeat_at REAL NOT NULL,
        expires_at REAL NOT NULL
    )""",
    """CREATE TABLE job_runs (
        id INTEGER PRIMARY KEY,
        job TEXT NOT NULL,
        scheduled_for REAL NOT NULL,
        idem_key TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL CHECK (status IN
            ('running','succeeded','failed','cancelled','interrupted','requeued')),
        lease_holder TEXT NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL,
        error TEXT,
        attempt INTEGER NOT NULL DEFAULT 1
    )""",
    "CREATE INDEX job_runs_by_status ON job_runs (status, id)",
    """CREATE TABLE requests (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        target TEXT NOT NULL,
        args_json TEXT NOT NULL DEFAULT '{}',
        requested_by TEXT NOT NULL,
        at REAL NOT NULL,
        status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN
            ('queued','taken','done','failed')),
        taken_at REAL,
        done_at REAL,
        result TEXT
    )""",
    "CREATE INDEX requests_queued ON requests (status, id)",
    # When each scheduled job fires next; kept so a restart can apply the misfire policy.
    """CREATE TABLE schedule_state (
        job TEXT PRIMARY KEY,
        next_run_at REAL,
        updated_at REAL NOT NULL
    )""",
]

# Notifications and external registries arrived after the first release.
V2 = [
    """CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        event_id INTEGER NOT NULL REFERENCES events(id),
        target TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending','delivered','failed','suppressed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        at REAL NOT NULL,
        code INTEGER,
        detail TEXT NOT NULL DEFAULT ''
    )""",
    "CREATE INDEX deliveries_by_event ON deliveries (event_id)",
    "CREATE INDEX deliveries_by_target ON deliveries (target, event_id)",
    """CREATE TABLE external_state (
        source TEXT NOT NULL,
        key TEXT NOT NULL,
        value_json TEXT NOT NULL,
        fetched_at REAL NOT NULL,
        PRIMARY KEY (source, key)
    )""",
]

# Check results rebuilt for bulk loads (issue 2: ≥ 100k rows/s). Ids, rows and the latest
# result of each check are kept.
# - A check is a row of `checks`; results refer to it by an integer id, so each result
#   binds, stores and indexes one integer instead of two strings.
# - The result CHECK is spelled with "=": SQLite evaluates "x IN (a list of more than two)"
#   in a CHECK by building a temporary b-tree for every row inserted.
# - Indexes are ascending. A new result then goes just after its check's previous one and
#   pages fill up; under "id DESC" it went just before, and splits left them half empty.
#   SQLite reads an index backwards for "ORDER BY id DESC".
# check_latest is rebuilt too, so that no foreign key ever points at a dropped table.
V3 = [
    """CREATE TABLE checks (
        id INTEGER PRIMARY KEY,
        dataset TEXT NOT NULL,
        name TEXT NOT NULL,
        UNIQUE (dataset, name)
    )""",
    "INSERT INTO checks (dataset, name)"
    " SELECT dataset, name FROM check_results UNION SELECT dataset, name FROM check_latest",
    """CREATE TABLE check_results_v3 (
        id INTEGER PRIMARY KEY,
        check_id INTEGER NOT NULL REFERENCES checks(id),
        kind TEXT NOT NULL,
        severity TEXT NOT NULL CHECK (severity IN ('warn','fail')),
        result TEXT NOT NULL CHECK (result = 'pass' OR result = 'warn' OR result = 'fail'
                                    OR result = 'error'),
        observed TEXT,
        threshold TEXT,
        rows_examined INTEGER NOT NULL DEFAULT 0,
        failing_rows INTEGER NOT NULL DEFAULT 0,
        examples_json TEXT NOT NULL DEFAULT '[]',
        message TEXT NOT NULL DEFAULT '',
        snapshot_id INTEGER REFERENCES snapshots(id),
        run_id INTEGER REFERENCES runs(id),
        at REAL NOT NULL
    )""",
    """INSERT INTO check_results_v3 (id, check_id, kind, severity, result, observed, threshold,
        rows_examined, failing_rows, examples_json, message, snapshot_id, run_id, at)
    SELECT r.id, c.id, r.kind, r.severity, r.result, r.observed, r.threshold, r.rows_examined,
        r.failing_rows, r.examples_json, r.message, r.snapshot_id, r.run_id, r.at
    FROM check_results r JOIN checks c ON c.dataset = r.dataset AND c.name = r.name
    ORDER BY r.id""",
    """CREATE TABLE check_latest_v3 (
        check_id INTEGER PRIMARY KEY REFERENCES checks(id),
        result_id INTEGER NOT NULL REFERENCES check_results_v3(id)
    )""",
    """INSERT INTO check_latest_v3 (check_id, result_id)
    SELECT c.id, l.result_id
    FROM check_latest l JOIN checks c ON c.dataset = l.dataset AND c.name = l.name""",
    # The child first: once nothing refers to check_results, dropping it checks no keys.
    "DROP TABLE check_latest",
    "DROP TABLE check_results",
    # Renaming also rewrites check_latest_v3's reference to the new name.
    "ALTER TABLE check_results_v3 RENAME TO check_results",
    "ALTER TABLE check_latest_v3 RENAME TO check_latest",
    "CREATE INDEX check_results_by_check ON check_results (check_id)",
    "CREATE INDEX check_results_failing ON check_results (id) WHERE result IN ('fail','error')",
    "CREATE INDEX check_results_by_snapshot ON check_results (snapshot_id)"
    " WHERE snapshot_id IS NOT NULL",
]

# A version's reference profile has been a BLOB (`registry.encode_profile`) since profiles
# were packed; its column said JSON. The declared TEXT affinity keeps a BLOB as it is, and
# profiles written as JSON text by earlier versions still read, so only the name changes.
V4 = [
    "ALTER TABLE versions RENAME COLUMN profile_json TO profile",
]

# Signed audit entries (issue 14). Each entry written from now on carries an Ed25519
# signature over its hash (NULL for the "legacy" entries written before); the partial
# index finds the newest key entry, which says which key signs what follows, in one step.
V5 = [
    "ALTER TABLE audit ADD COLUMN signature TEXT",
    "CREATE INDEX audit_keys ON audit (seq) WHERE action = 'key'",
]

# On-call (issue 19): search, grouped notifications and pages that resolve.
# - search_docs holds one row per searchable thing (an event, a stage's log, a failing check
#   result, an audit entry), written by triggers on the tables they come from, so every
#   writer keeps search current; `search` is its FTS5 index (external content: the index
#   keeps no second copy of the text). Ids grow with each new document, so "newest first" walks the index
#   backwards and stops after a page of hits.
# - events.batch names what raised events together ("run:12", "checks:…"): one message.
# - deliveries.message is the key an event went out under (a PagerDuty dedup key, an
#   Alertmanager group label); `open` is 1 while a paging receiver shows it firing.
V6 = [
    """CREATE TABLE search_docs (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('event','log','check','audit')),
        ref INTEGER NOT NULL,
        item INTEGER NOT NULL,
        at REAL NOT NULL,
        subject TEXT NOT NULL,
        text TEXT NOT NULL,
        UNIQUE (kind, ref)
    )""",
    "CREATE VIRTUAL TABLE search USING fts5(subject, text, content='search_docs',"
    " content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    """CREATE TRIGGER search_docs_ai AFTER INSERT ON search_docs BEGIN
        INSERT INTO search (rowid, subject, text) VALUES (NEW.id, NEW.subject, NEW.text);
    END""",
    """CREATE TRIGGER search_docs_ad AFTER DELETE ON search_docs BEGIN
        INSERT INTO search (search, rowid, subject, text)
            VALUES ('delete', OLD.id, OLD.subject, OLD.text);
    END""",
    """CREATE TRIGGER search_docs_au AFTER UPDATE ON search_docs BEGIN
        INSERT INTO search (search, rowid, subject, text)
            VALUES ('delete', OLD.id, OLD.subject, OLD.text);
        INSERT INTO search (rowid, subject, text) VALUES (NEW.id, NEW.subject, NEW.text);
    END""",
    # events: kind, message and the acknowledgement note
    """CREATE TRIGGER search_events_ai AFTER INSERT ON events BEGIN
        INSERT INTO search_docs (kind, ref, item, at, subject, text)
            VALUES ('event', NEW.id, NEW.id, NEW.at, NEW.subject, NEW.kind || ': ' || NEW.message);
    END""",
    """CREATE TRIGGER search_events_au AFTER UPDATE OF ack_note ON events
        WHEN NEW.ack_note IS NOT OLD.ack_note BEGIN
        UPDATE search_docs SET text = NEW.kind || ': ' || NEW.message
            || coalesce(' — ' || NEW.acked_by || ': ' || nullif(NEW.ack_note, ''), '')
            WHERE kind = 'event' AND ref = NEW.id;
    END""",
    """CREATE TRIGGER search_events_ad AFTER DELETE ON events BEGIN
        DELETE FROM search_docs WHERE kind = 'event' AND ref = OLD.id;
    END""",
    # stage logs (and a stage's error), as they are written: live tails included
    """CREATE TRIGGER search_stages_ai AFTER INSERT ON stage_runs
        WHEN NEW.log_tail <> '' OR NEW.error IS NOT NULL BEGIN
        INSERT INTO search_docs (kind, ref, item, at, subject, text)
            SELECT 'log', NEW.id, NEW.run_id, coalesce(NEW.ended_at, NEW.started_at, r.created_at),
                r.pipeline || ' run ' || NEW.run_id || ' · ' || NEW.name,
                NEW.log_tail || coalesce(char(10) || NEW.error, '')
            FROM runs r WHERE r.id = NEW.run_id;
    END""",
    """CREATE TRIGGER search_stages_au AFTER UPDATE OF log_tail, error ON stage_runs
        WHEN NEW.log_tail IS NOT OLD.log_tail OR NEW.error IS NOT OLD.error BEGIN
        INSERT INTO search_docs (kind, ref, item, at, subject, text)
            SELECT 'log', NEW.id, NEW.run_id, coalesce(NEW.ended_at, NEW.started_at, r.created_at),
                r.pipeline || ' run ' || NEW.run_id || ' · ' || NEW.name,
                NEW.log_tail || coalesce(char(10) || NEW.error, '')
            FROM runs r WHERE r.id = NEW.run_id
            ON CONFLICT (kind, ref) DO UPDATE SET at = excluded.at, text = excluded.text;
    END""",
    """CREATE TRIGGER search_stages_ad AFTER DELETE ON stage_runs BEGIN
        DELETE FROM search_docs WHERE kind = 'log' AND ref = OLD.id;
    END""",
    # check results that did not pass: their message and failing examples
    """CREATE TRIGGER search_checks_ai AFTER INSERT ON check_results
        WHEN NEW.result <> 'pass' BEGIN
        INSERT INTO search_docs (kind, ref, item, at, subject, text)
            SELECT 'check', NEW.id, NEW.id, NEW.at, c.dataset || '.' || c.name,
                NEW.result || ': ' || NEW.message || ' ' || NEW.examples_json
            FROM checks c WHERE c.id = NEW.check_id;
    END""",
    """CREATE TRIGGER search_checks_ad AFTER DELETE ON check_results
        WHEN OLD.result <> 'pass' BEGIN
        DELETE FROM search_docs WHERE kind = 'check' AND ref = OLD.id;
    END""",
    # audit entries: who did what, and why (the audit is never changed or deleted)
    """CREATE TRIGGER search_audit_ai AFTER INSERT ON audit BEGIN
        INSERT INTO search_docs (kind, ref, item, at, subject, text)
            VALUES ('audit', NEW.seq, NEW.seq, NEW.at, NEW.subject,
                NEW.actor || ' ' || NEW.action || ': ' || NEW.reason);
    END""",
    # what is already in the store becomes searchable too, oldest first
    """INSERT INTO search_docs (kind, ref, item, at, subject, text)
    SELECT * FROM (
        SELECT 'audit', seq, seq, at, subject, actor || ' ' || action || ': ' || reason
        FROM audit
        UNION ALL
        SELECT 'check', r.id, r.id, r.at, c.dataset || '.' || c.name,
            r.result || ': ' || r.message || ' ' || r.examples_json
        FROM check_results r JOIN checks c ON c.id = r.check_id WHERE r.result <> 'pass'
        UNION ALL
        SELECT 'log', s.id, s.run_id, coalesce(s.ended_at, s.started_at, r.created_at),
            r.pipeline || ' run ' || s.run_id || ' · ' || s.name,
            s.log_tail || coalesce(char(10) || s.error, '')
        FROM stage_runs s JOIN runs r ON r.id = s.run_id
        WHERE s.log_tail <> '' OR s.error IS NOT NULL
        UNION ALL
        SELECT 'event', id, id, at, subject, kind || ': ' || message
            || coalesce(' — ' || acked_by || ': ' || nullif(ack_note, ''), '')
        FROM events
    ) ORDER BY 4""",
    # the results that did not pass, with what a report reads of them (a covering index:
    # a month's failures are read without touching the million passes around them)
    "CREATE INDEX check_results_not_passing ON check_results (id, check_id, result, severity, at)"
    " WHERE result <> 'pass'",
    # what the stage-duration histogram reads, so a scrape never walks the stage logs
    "CREATE INDEX stage_runs_durations ON stage_runs (run_id, name, status, started_at, ended_at)",
    "ALTER TABLE events ADD COLUMN batch TEXT",
    "ALTER TABLE deliveries ADD COLUMN message TEXT",
    "ALTER TABLE deliveries ADD COLUMN open INTEGER NOT NULL DEFAULT 0",
    "CREATE INDEX deliveries_open ON deliveries (target, message) WHERE open = 1",
]

# Mergeable batch profiles (issue 18): each logged batch's summary, computed once when it
# is logged, kept beside its raw rows and for longer (retention prunes raw rows first), so
# a drift window reads one small row per batch. Its own table: a column after a batch's
# blob would be reached only through the blob's overflow pages. Batches logged before
# have none; the scheduler profiles them from their raw rows. Ids follow time, so
# retention prunes tables from their lowest ids.
V7 = [
    """CREATE TABLE batch_profiles (
        batch_id INTEGER PRIMARY KEY,
        model TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('inputs','labels')),
        at REAL NOT NULL,
        rows INTEGER NOT NULL,
        first_ts REAL,
        last_ts REAL,
        profile BLOB NOT NULL
    )""",
    "CREATE INDEX batch_profiles_by_model ON batch_profiles (model, kind, batch_id)",
]

# Crash safety (issue 15).
# - alias_intents: a change to what serves (a serving pointer, or an alias in a connector such
#   as MLflow) is recorded here, committed, before the outside world is touched; the
#   transaction that records the decision marks it done. One left `pending` by a process that
#   died is settled by the next reconcile (scheduler start, every daemon pass, the next
#   promotion command on that alias), which makes the outside match the store again.
# - stage_runs.status gains `cancelled`: a stage cut short by a cancel or a shutdown (it saw
#   `ctx.cancelled`) ends so, never `succeeded`. A CHECK cannot be altered in place, so the
#   table is rebuilt (nothing refers to it), and V6's search triggers and duration index on
#   it are made again as V6 wrote them. They are dropped first, so that dropping the old
#   table deletes no search document.
# - runs.cancelled_by: who cancelled a run (a person, or the scheduler); the reason is its error.
_ON_STAGE_RUNS = [s for s in V6 if " ON stage_runs" in s]
V8 = [
    """CREATE TABLE alias_intents (
        id INTEGER PRIMARY KEY,
        model TEXT NOT NULL,
        alias TEXT NOT NULL,
        action TEXT NOT NULL,
        actor TEXT NOT NULL,
        from_version INTEGER,
        to_version INTEGER,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at REAL NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending','done','recovered')),
        ended_at REAL,
        note TEXT
    )""",
    "CREATE INDEX alias_intents_pending ON alias_intents (model, alias) WHERE status = 'pending'",
    "CREATE INDEX alias_intents_by_alias ON alias_intents (model, alias, id)",
    """CREATE TABLE stage_runs_v8 (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN
            ('pending','running','succeeded','failed','skipped','interrupted','cancelled')),
        started_at REAL,
        ended_at REAL,
        log_tail TEXT NOT NULL DEFAULT '',
        metrics_json TEXT NOT NULL DEFAULT '{}',
        error TEXT,
        UNIQUE (run_id, name)
    )""",
    "INSERT INTO stage_runs_v8 SELECT id, run_id, position, name, status, started_at, ended_at,"
    " log_tail, metrics_json, error FROM stage_runs ORDER BY id",
    "DROP TRIGGER search_stages_ai",
    "DROP TRIGGER search_stages_au",
    "DROP TRIGGER search_stages_ad",
    "DROP TABLE stage_runs",
    "ALTER TABLE stage_runs_v8 RENAME TO stage_runs",
    *_ON_STAGE_RUNS,
    "ALTER TABLE runs ADD COLUMN cancelled_by TEXT",
]

# V9: a logged batch's raw rows live in a file of the store's batch folder
# (`lookout.storage.drift`); older rows keep their blob and a NULL data_file.
V9 = ["ALTER TABLE inference_batches ADD COLUMN data_file TEXT"]


def _widen_run_statuses(conn: sqlite3.Connection) -> None:
    """Let runs.status be `unchanged` too.

    SQLite cannot alter a CHECK, and rebuilding `runs` would mean dropping a table that
    others refer to (stage runs, snapshots, check results, versions; the search triggers). Widening a CHECK is the one
    edit SQLite documents doing in place (lang_altertable.html, "Making Other Kinds Of Table
    Schema Changes"): rewrite the table's SQL in sqlite_schema and bump the schema cookie, so
    every connection, this one included, reads the new definition. Rows that passed the old
    CHECK pass the wider one.
    """
    cookie = conn.execute("PRAGMA schema_version").fetchone()[0]
    conn.execute("PRAGMA writable_schema = ON")
    try:
        cur = conn.execute(
            "UPDATE sqlite_schema SET sql = replace(sql, ?, ?) WHERE type = 'table' AND name = 'runs'",
            ("'cancelled','interrupted')", "'cancelled','interrupted','unchanged')"),
        )
        if cur.rowcount != 1:
            raise sqlite3.DatabaseError("runs: table not found")
        conn.execute(f"PRAGMA schema_version = {int(cookie) + 1}")
    finally:
        conn.execute("PRAGMA writable_schema = OFF")
    sql = conn.execute("SELECT sql FROM sqlite_schema WHERE name = 'runs'").fetchone()[0]
    if "'unchanged'" not in sql:
        raise sqlite3.DatabaseError("runs: its status CHECK is not the one V1 wrote")


# Runs that change nothing (issue 17): a re-run on the same data, pipeline config and code
# ends `unchanged` and registers no duplicate version; `forced` runs train and register
# anyway (`lookout run --force`). The column comes first: ALTER TABLE ADD COLUMN rewrites the
# table's SQL from where the parsed definition ended.
V10: list[Step] = [
    "ALTER TABLE runs ADD COLUMN forced INTEGER NOT NULL DEFAULT 0",
    _widen_run_statuses,
]

# Events read open first, then acknowledged, then resolved (the condition cleared) at the
# bottom: the order of the events strip and the timeline, and how their counts are taken.
# (events_by_open stays: the metrics and the report ask for open events alone.)
V11: list[Step] = [
    "CREATE INDEX events_by_state ON events"
    " ((resolved_at IS NOT NULL), (acked_at IS NOT NULL), id DESC)",
]

# Pipelines that run elsewhere (issue 20: Airflow). A mirrored run is a row of `runs` like
# any other, tied to the outside system's own id for it in `external_runs`; its stages
# keep their try number and operator. Every task state the outside system has gets its
# own stage status (the README maps Airflow's one to one). Nothing refers to stage_runs, so
# it is rebuilt with its ids and the two new columns, as V8 did (its search triggers and
# durations index dropped first and made again); the CHECK is spelled with "=" (see V3).
_STAGE_STATUSES_V12 = (
    "pending",
    "running",
    "succeeded",
    "failed",
    "skipped",
    "interrupted",
    "cancelled",
    "scheduled",
    "queued",
    "upstream_failed",
    "up_for_retry",
    "up_for_reschedule",
    "restarting",
    "deferred",
    "removed",
    "awaiting_input",
)
V12 = [
    f"""CREATE TABLE stage_runs_v12 (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL CHECK ({" OR ".join(f"status = '{s}'" for s in _STAGE_STATUSES_V12)}),
        started_at REAL,
        ended_at REAL,
        log_tail TEXT NOT NULL DEFAULT '',
        metrics_json TEXT NOT NULL DEFAULT '{{}}',
        error TEXT,
        try_number INTEGER,
        operator TEXT,
        UNIQUE (run_id, name)
    )""",
    """INSERT INTO stage_runs_v12 (id, run_id, position, name, status, started_at, ended_at,
        log_tail, metrics_json, error)
    SELECT id, run_id, position, name, status, started_at, ended_at, log_tail, metrics_json,
        error
    FROM stage_runs ORDER BY id""",
    "DROP TRIGGER search_stages_ai",
    "DROP TRIGGER search_stages_au",
    "DROP TRIGGER search_stages_ad",
    "DROP TABLE stage_runs",
    "ALTER TABLE stage_runs_v12 RENAME TO stage_runs",
    *_ON_STAGE_RUNS,
    """CREATE TABLE external_runs (
        source TEXT NOT NULL,
        pipeline TEXT NOT NULL,
        key TEXT NOT NULL,
        run_id INTEGER NOT NULL UNIQUE REFERENCES runs(id) ON DELETE CASCADE,
        updated_at REAL NOT NULL,
        acted_at REAL,
        PRIMARY KEY (source, pipeline, key)
    )""",
    "CREATE INDEX external_runs_by_update ON external_runs (updated_at)",
]

MIGRATIONS: list[Sequence[Step]] = [V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12]
SCHEMA_VERSION = len(MIGRATIONS)

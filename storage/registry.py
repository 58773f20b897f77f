"""Models, versions, aliases, alias transitions, promotion requests and approvals.

Functions taking a `conn` run inside the caller's `Store.write()` so a
promotion (alias move + transition + audit entry + event) commits as one.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import struct
import sys
from array import array
from collections.abc import Callable, Iterator
from typing import Any

from lookout.storage import events
from lookout.storage.db import Store, StoreError, now
from lookout.storage.records import (
    AliasTransition,
    Approval,
    Gate,
    Model,
    PromotionRequest,
    Version,
)

# Every column but profile: a profile can be a megabyte, and only drift reads it.
_VERSION_COLUMNS = (
    "id, model, version, created_at, metrics_json, params_json, lineage_json, tags_json,"
    " artifact_path, artifact_sha256, snapshot_id, run_id"
)


def _model(row: sqlite3.Row) -> Model:
    return Model(row["name"], row["source"], row["task"], row["primary_metric"], row["created_at"])


def _version(row: sqlite3.Row, aliases: tuple[str, ...] = ()) -> Version:
    return Version(
        id=row["id"],
        model=row["model"],
        version=row["version"],
        created_at=row["created_at"],
        metrics=json.loads(row["metrics_json"]),
        params=json.loads(row["params_json"]),
        lineage=json.loads(row["lineage_json"]),
        tags=json.loads(row["tags_json"]),
        artifact_path=row["artifact_path"],
        artifact_sha256=row["artifact_sha256"],
        snapshot_id=row["snapshot_id"],
        run_id=row["run_id"],
        aliases=aliases,
    )


def ensure_model(
    store: Store, name: str, task: str, primary_metric: str, source: str = "local"
) -> Model:
    """Create the model if new; keep task, metric and source in step with the config."""
    with store.write() as conn:
        conn.execute(
            "INSERT INTO models (name, source, task, primary_metric, created_at) VALUES (?,?,?,?,?)"
            " ON CONFLICT(name) DO UPDATE SET source=excluded.source, task=excluded.task,"
            " primary_metric=excluded.primary_metric",
            (name, source, task, primary_metric, now()),
        )
        row = conn.execute("SELECT * FROM models WHERE name = ?", (name,)).fetchone()
    return _model(row)


def list_models(store: Store) -> list[Model]:
    return [_model(r) for r in store.conn.execute("SELECT * FROM models ORDER BY name")]


def get_model(store: Store, name: str) -> Model | None:
    row = store.conn.execute("SELECT * FROM models WHERE name = ?", (name,)).fetchone()
    return _model(row) if row else None


def register_version(
    store: Store,
    model: str,
    *,
    metrics: dict[str, float] | None = None,
    params: dict[str, Any] | None = None,
    lineage: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    artifact_path: str | None = None,
    artifact_sha256: str | None = None,
    snapshot_id: int | None = None,
    run_id: int | None = None,
    profile: dict[str, Any] | None = None,
    version: int | None = None,
) -> Version:
    """Add the next version (1, 2, ...) of a model, or an explicit number (external registries)."""
    with store.write() as conn:
        if version is None:
            row = conn.execute(
                "SELECT coalesce(max(version), 0) + 1 FROM versions WHERE model = ?", (model,)
            ).fetchone()
            version = int(row[0])
        cur = conn.execute(
            "INSERT INTO versions (model, version, created_at, metrics_json, params_json,"
            " lineage_json, tags_json, artifact_path, artifact_sha256, snapshot_id, run_id,"
            " profile) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                model,
                version,
                now(),
                json.dumps(metrics or {}),
                json.dumps(params or {}, default=str),
                json.dumps(lineage or {}, default=str),
                json.dumps(tags or {}),
                artifact_path,
                artifact_sha256,
                snapshot_id,
                run_id,
                None if profile is None else encode_profile(profile),
            ),
        )
        row = conn.execute(
            f"SELECT {_VERSION_COLUMNS} FROM versions WHERE id = ?", (cur.lastrowid,)
        ).fetchone()
    return _version(row)


def trained_from(store: Store, model: str, inputs_sha256: str) -> Version | None:
    """The newest version of a model trained from these inputs (data, pipeline config and
    code, hashed into its lineage when it was registered), if any."""
    row = store.conn.execute(
        f"SELECT {_VERSION_COLUMNS} FROM versions WHERE model = ?"
        " AND json_extract(lineage_json, '$.inputs_sha256') = ? ORDER BY version DESC LIMIT 1",
        (model, inputs_sha256),
    ).fetchone()
    return None if row is None else _version(row)


def _aliases_by_version(conn: sqlite3.Connection, model: str) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for r in conn.execute(
        "SELECT alias, version FROM aliases WHERE model = ? ORDER BY alias", (model,)
    ):
        out.setdefault(r["version"], []).append(r["alias"])
    return out


def list_versions(store: Store, model: str, limit: int | None = None) -> list[Version]:
    """Newest first, each with its aliases."""
    conn = store.conn
    aliases = _aliases_by_version(conn, model)
    sql = f"SELECT {_VERSION_COLUMNS} FROM versions WHERE model = ? ORDER BY version DESC"
    args: list[Any] = [model]
    if limit is not None:
        sql += " LIMIT ?"
        args.append(limit)
    return [_version(r, tuple(aliases.get(r["version"], ()))) for r in conn.execute(sql, args)]


def get_version(store: Store, model: str, version: int) -> Version | None:
    conn = store.conn
    row = conn.execute(
        f"SELECT {_VERSION_COLUMNS} FROM versions WHERE model = ? AND version = ?", (model, version)
    ).fetchone()
    if row is None:
        return None
    return _version(row, tuple(_aliases_by_version(conn, model).get(version, ())))


# -- reference profiles -------------------------------------------------------------
#
# A drift profile is mostly its numeric features' samples: 2000 floats each, which as
# JSON text take ~40 kB and ~1.5 ms to parse per feature. So a profile is stored as a
# BLOB (in the `profile` column; SQLite keeps a BLOB as it is in a TEXT column):
#
#     PROFILE_MAGIC, skeleton length (uint32 LE), skeleton (JSON, UTF-8), float64 LE values
#
# The skeleton is {"profile": the profile with each packed sample set to null,
# "packed": [[where, feature, count], ...]}, where = "features" (feature names one) or
# "target" (feature null); the samples' values follow in that order. A sample is packed
# when it is a non-empty list of floats (or an array('d')), so decoding gives back
# exactly the numbers stored, as array('d') (a sequence of floats NumPy reads without a
# copy). Anything else stays in the skeleton as it was. Profiles written as JSON text by
# earlier versions of Lookout load as they always did.

PROFILE_MAGIC = b"LKPROF\x00\x01"
_LENGTH = struct.Struct("<I")


def _packable(feature: Any) -> bool:
    sample = feature.get("sample") if isinstance(feature, dict) else None
    if isinstance(sample, array):  # as get_profile returns it
        return sample.typecode == "d"
    return isinstance(sample, list) and bool(sample) and all(isinstance(x, float) for x in sample)


def encode_profile(profile: dict[str, Any]) -> bytes:
    """A profile as the BLOB `get_profile` reads (see above)."""
    skeleton = dict(profile)
    packed: list[list[Any]] = []
    values = array("d")

    def pack(feature: dict[str, Any], where: str, name: str | None) -> dict[str, Any]:
        values.extend(feature["sample"])
        packed.append([where, name, len(feature["sample"])])
        return {**feature, "sample": None}

    features = profile.get("features")
    if isinstance(features, dict):
        skeleton["features"] = {
            name: pack(f, "features", name) if _packable(f) else f for name, f in features.items()
        }
    if _packable(profile.get("target")):
        skeleton["target"] = pack(profile["target"], "target", None)
    head = json.dumps({"profile": skeleton, "packed": packed}).encode()
    if sys.byteorder == "big":
        values.byteswap()
    return b"".join((PROFILE_MAGIC, _LENGTH.pack(len(head)), head, values.tobytes()))


def decode_profile(stored: str | bytes) -> dict[str, Any]:
    """A stored profile: a BLOB from `encode_profile` (its samples as array('d')), or JSON
    text from earlier versions (samples as lists)."""
    if isinstance(stored, str) or not stored.startswith(PROFILE_MAGIC):
        return dict(json.loads(stored))
    start = len(PROFILE_MAGIC) + _LENGTH.size
    (length,) = _LENGTH.unpack_from(stored, len(PROFILE_MAGIC))
    head = json.loads(stored[start : start + length])
    profile: dict[str, Any] = head["profile"]
    data = memoryview(stored)[start + length :]
    at = 0
    for where, name, count in head["packed"]:
        sample = array("d")
        sample.frombytes(data[at : at + 8 * count])
        if sys.byteorder == "big":
            sample.byteswap()
        at += 8 * count
        feature = profile["features"][name] if where == "features" else profile["target"]
        feature["sample"] = sample
    return profile


def get_profile(store: Store, model: str, version: int) -> dict[str, Any] | None:
    """The reference profile stored with a version (for drift), decoded by `decode_profile`."""
    row = store.conn.execute(
        "SELECT profile FROM versions WHERE model = ? AND version = ?", (model, version)
    ).fetchone()
    if row is None or row[0] is None:
        return None
    return decode_profile(row[0])


def set_profile(store: Store, model: str, version: int, profile: dict[str, Any]) -> None:
    with store.write() as conn:
        conn.execute(
            "UPDATE versions SET profile = ? WHERE model = ? AND version = ?",
            (encode_profile(profile), model, version),
        )


def aliases(store: Store, model: str) -> dict[str, int]:
    """alias -> version for one model."""
    return {
        r["alias"]: r["version"]
        for r in store.conn.execute("SELECT alias, version FROM aliases WHERE model = ?", (model,))
    }


def alias_version(conn: sqlite3.Connection, model: str, alias: str) -> int | None:
    row = conn.execute(
        "SELECT version FROM aliases WHERE model = ? AND alias = ?", (model, alias)
    ).fetchone()
    return None if row is None else int(row[0])


def move_alias(
    conn: sqlite3.Connection,
    model: str,
    alias: str,
    to_version: int | None,
    *,
    kind: str,
    actor: str,
    reason: str = "",
    request_id: int | None = None,
    at: float | None = None,
) -> AliasTransition:
    """Point an alias at a version (or remove it with None) and record the transition.

    Runs in the caller's transaction; the caller adds the audit entry and event.
    """
    at = now() if at is None else at
    from_version = alias_version(conn, model, alias)
    if to_version is None:
        conn.execute("DELETE FROM aliases WHERE model = ? AND alias = ?", (model, alias))
    else:
        conn.execute(
            "INSERT INTO aliases (model, alias, version, set_at, set_by) VALUES (?,?,?,?,?)"
            " ON CONFLICT(model, alias) DO UPDATE SET version=excluded.version,"
            " set_at=excluded.set_at, set_by=excluded.set_by",
            (model, alias, to_version, at, actor),
        )
    cur = conn.execute(
        "INSERT INTO alias_transitions (model, alias, from_version, to_version, kind, actor,"
        " reason, request_id, at) VALUES (?,?,?,?,?,?,?,?,?)",
        (model, alias, from_version, to_version, kind, actor, reason, request_id, at),
    )
    return AliasTransition(
        int(cur.lastrowid or 0),
        model,
        alias,
        from_version,
        to_version,
        kind,
        actor,
        reason,
        request_id,
        at,
    )


def _transition(row: sqlite3.Row) -> AliasTransition:
    return AliasTransition(**{k: row[k] for k in row.keys()})


def transitions(
    store: Store, model: str, alias: str | None = None, limit: int = 100
) -> list[AliasTransition]:
    """Alias history, newest first."""
    if alias is None:
        rows = store.conn.execute(
            "SELECT * FROM alias_transitions WHERE model = ? ORDER BY id DESC LIMIT ?",
            (model, limit),
        )
    else:
        rows = store.conn.execute(
            "SELECT * FROM alias_transitions WHERE model = ? AND alias = ? ORDER BY id DESC"
            " LIMIT ?",
            (model, alias, limit),
        )
    return [_transition(r) for r in rows]


# -- promotion requests -------------------------------------------------------------


def _approval(row: sqlite3.Row) -> Approval:
    return Approval(
        row["id"],
        row["request_id"],
        row["actor"],
        row["decision"],
        row["reason"],
        bool(row["override"]),
        row["at"],
    )


def _request(conn: sqlite3.Connection, row: sqlite3.Row) -> PromotionRequest:
    approvals = tuple(
        _approval(a)
        for a in conn.execute(
            "SELECT * FROM approvals WHERE request_id = ? ORDER BY id", (row["id"],)
        )
    )
    return PromotionRequest(
        id=row["id"],
        model=row["model"],
        version=row["version"],
        alias=row["alias"],
        from_version=row["from_version"],
        status=row["status"],
        requested_by=row["requested_by"],
        requested_at=row["requested_at"],
        reason=row["reason"],
        gates=tuple(Gate(**g) for g in json.loads(row["gates_json"])),
        approvals_required=row["approvals_required"],
        decided_at=row["decided_at"],
        decided_by=row["decided_by"],
        approvals=approvals,
        kind=row["kind"],
    )


def create_request(
    conn: sqlite3.Connection,
    model: str,
    version: int,
    alias: str,
    requested_by: str,
    reason: str,
    gates: list[Gate],
    approvals_required: int,
    kind: str = "promotion",
) -> PromotionRequest:
    """A pending request holding a snapshot of the gate results (caller's transaction)."""
    cur = conn.execute(
        "INSERT INTO promotion_requests (model, version, alias, from_version, status,"
        " requested_by, requested_at, reason, gates_json, approvals_required, kind)"
        " VALUES (?,?,?,?,'pending',?,?,?,?,?,?)",
        (
            model,
            version,
            alias,
            alias_version(conn, model, alias),
            requested_by,
            now(),
            reason,
            json.dumps([g.__dict__ for g in gates]),
            approvals_required,
            kind,
        ),
    )
    row = conn.execute("SELECT * FROM promotion_requests WHERE id = ?", (cur.lastrowid,)).fetchone()
    return _request(conn, row)


def get_request(conn: sqlite3.Connection, request_id: int) -> PromotionRequest | None:
    row = conn.execute("SELECT * FROM promotion_requests WHERE id = ?", (request_id,)).fetchone()
    return _request(conn, row) if row else None


def list_requests(
    store: Store, model: str | None = None, status: str | None = None, limit: int = 200
) -> list[PromotionRequest]:
    """Pending first, then newest first."""
    conn = store.conn
    where: list[str] = []
    args: list[Any] = []
    if model is not None:
        where.append("model = ?")
        args.append(model)
    if status is not None:
        where.append("status = ?")
        args.append(status)
    sql = "SELECT * FROM promotion_requests"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY (status != 'pending'), id DESC LIMIT ?"
    args.append(limit)
    return [_request(conn, r) for r in conn.execute(sql, args)]


def add_approval(
    conn: sqlite3.Connection,
    request_id: int,
    actor: str,
    decision: str,
    reason: str,
    override: bool = False,
) -> Approval:
    cur = conn.execute(
        "INSERT INTO approvals (request_id, actor, decision, reason, override, at)"
        " VALUES (?,?,?,?,?,?)",
        (request_id, actor, decision, reason, int(override), now()),
    )
    row = conn.execute("SELECT * FROM approvals WHERE id = ?", (cur.lastrowid,)).fetchone()
    return _approval(row)


def pending_key(request_id: int) -> str:
    """The dedup key of a request's `approval_pending` event."""
    return f"approval:{request_id}"


def set_request_status(
    conn: sqlite3.Connection, request_id: int, status: str, actor: str | None
) -> None:
    """Decide a request; its `approval_pending` event resolves in the same transaction,
    whoever decided it and however (approved, rejected, superseded, cancelled)."""
    t = now()
    conn.execute(
        "UPDATE promotion_requests SET status = ?, decided_at = ?, decided_by = ? WHERE id = ?",
        (status, t, actor, request_id),
    )
    if status != "pending":
        events.resolve(conn, pending_key(request_id), t)


# -- promotion support ---------------------------------------------------------------


def pending_requests(conn: sqlite3.Connection, model: str, alias: str) -> list[PromotionRequest]:
    """Pending requests for one model and alias, oldest first (caller's transaction)."""
    rows = conn.execute(
        "SELECT * FROM promotion_requests WHERE model = ? AND alias = ? AND status = 'pending'"
        " ORDER BY id",
        (model, alias),
    ).fetchall()
    return [_request(conn, r) for r in rows]


def next_request(conn: sqlite3.Connection, request: PromotionRequest) -> PromotionRequest | None:
    """The first request for the same model and alias made after this one (its successor)."""
    row = conn.execute(
        "SELECT * FROM promotion_requests WHERE model = ? AND alias = ? AND id > ?"
        " ORDER BY id LIMIT 1",
        (request.model, request.alias, request.id),
    ).fetchone()
    return _request(conn, row) if row else None


def last_transition(conn: sqlite3.Connection, model: str, alias: str) -> AliasTransition | None:
    """The newest move of an alias (who put the current version there, and from what)."""
    row = conn.execute(
        "SELECT * FROM alias_transitions WHERE model = ? AND alias = ? ORDER BY id DESC LIMIT 1",
        (model, alias),
    ).fetchone()
    return _transition(row) if row else None


def versions_ever_at(conn: sqlite3.Connection, model: str, alias: str) -> set[int]:
    """Every version an alias has pointed to (rollback may only go to one of these)."""
    return {
        int(r[0])
        for r in conn.execute(
            "SELECT DISTINCT to_version FROM alias_transitions"
            " WHERE model = ? AND alias = ? AND to_version IS NOT NULL",
            (model, alias),
        )
    }


def read_version(conn: sqlite3.Connection, model: str, version: int) -> Version | None:
    """One version read on the caller's connection (inside its transaction)."""
    row = conn.execute(
        f"SELECT {_VERSION_COLUMNS} FROM versions WHERE model = ? AND version = ?", (model, version)
    ).fetchone()
    if row is None:
        return None
    return _version(row, tuple(_aliases_by_version(conn, model).get(version, ())))


@contextlib.contextmanager
def changing(store: Store) -> Iterator[tuple[sqlite3.Connection, list[Callable[[], None]]]]:
    """A write transaction for a change that also touches the outside world.

    The caller appends an undo for each outside change (a serving pointer, an
    external registry's alias). If the transaction does not commit, the undos
    run newest first while the write lock is still held, so the outside world
    and the store never disagree and no other writer sees the half-made change.
    """
    conn = store.conn
    if conn.in_transaction:
        raise RuntimeError("registry.changing must own its transaction")
    if store.readonly:
        raise StoreError("the store is open read-only")
    undos: list[Callable[[], None]] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn, undos
        store.commit(conn)
    except BaseException:
        try:
            for undo in reversed(undos):
                undo()
        finally:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):  # the error to report is the first
                    conn.execute("ROLLBACK")
        raise


def remembered_gate(
    store: Store, name: str, candidate_id: int, against_id: int, settings: str
) -> Gate | None:
    """A gate computed earlier for this candidate against this version (row ids) and settings."""
    row = store.conn.execute(
        "SELECT passed, detail FROM gate_results WHERE candidate_id = ? AND against_id = ?"
        " AND name = ? AND settings = ?",
        (candidate_id, against_id, name, settings),
    ).fetchone()
    return None if row is None else Gate(name, bool(row["passed"]), row["detail"])


def remember_gate(
    store: Store, candidate_id: int, against_id: int, settings: str, gate: Gate
) -> None:
    with store.write() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO gate_results (candidate_id, against_id, name, settings,"
            " passed, detail, at) VALUES (?,?,?,?,?,?,?)",
            (candidate_id, against_id, gate.name, settings, int(gate.passed), gate.detail, now()),
        )


def aliased_versions(store: Store) -> list[Version]:
    """Every version an alias points at, each with all its aliases (one query)."""
    rows = store.conn.execute(
        "SELECT v.*, group_concat(a.alias) AS alias_list FROM aliases a CROSS JOIN versions v"
        " ON v.model = a.model AND v.version = a.version GROUP BY v.id ORDER BY v.model, v.version"
    ).fetchall()
    return [_version(r, tuple(sorted(r["alias_list"].split(",")))) for r in rows]


def pending_counts(store: Store) -> dict[str, int]:
    """Pending promotion requests per model."""
    rows = store.conn.execute(
        "SELECT model, count(*) FROM promotion_requests WHERE status = 'pending' GROUP BY model"
    ).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def artifact_paths(store: Store) -> set[str]:
    """Every artifact path a version records (to tell a run's leftover files from models)."""
    rows = store.conn.execute("SELECT artifact_path FROM versions WHERE artifact_path IS NOT NULL")
    return {r[0] for r in rows}

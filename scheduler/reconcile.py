"""Making what serves agree with the record again, after a crash or a meddling hand.

The store decides what serves; serving pointers (and a connector's aliases,
such as MLflow's) follow it. Promotion keeps them together (an intent is
recorded before the outside world is touched, and marked done in the
transaction that records the decision: `lookout.storage.intents`). What a
killed process, a full disk or a person editing files by hand can still leave
behind is settled here, by the scheduler at start and on every pass, and by a
promotion command before it acts on an alias:

- an intent left `pending` by a process that is gone: the outside world is
  made to match the store (the pointer put back, the connector's alias set
  again) and the intent marked `recovered`;
- a pointer that names another version, artifact or sha256 than the store's
  alias (or exists without one, or is missing where Lookout wrote one): put
  back from the store, after checking the artifact's sha256;
- an artifact that no longer matches its recorded sha256 while it serves.

Every repair is an audit entry and a timeline event. What cannot be repaired
(the artifact is missing or changed, the disk is full, the connector is down)
is a critical event, `serving_mismatch`, open until the two agree again: it
shows in the console's header and makes `lookout status` exit 1. The next
pass tries again.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass

from lookout.scheduler import calls, serving
from lookout.scheduler.connectors import model_source
from lookout.scheduler.workspace import Workspace
from lookout.storage import audit, events, intents, registry
from lookout.storage.records import AliasIntent, Version
from lookout.storage.text import sanitize

CRITICAL = events.CRITICAL_KINDS[0]  # the event kind of a disagreement nobody could repair


@dataclass(frozen=True)
class Finding:
    """One alias whose outside state disagrees (or disagreed) with the store."""

    model: str
    alias: str
    recorded: int | None  # the store's version
    serving: int | None  # what the pointer names (None: no pointer)
    problem: str
    repaired: bool = False


def _key(model: str, alias: str) -> str:
    return f"serving:{model}:{alias}"


def _local(ws: Workspace, model: str) -> bool:
    cfg = ws.config.models.get(model) or {}
    source = cfg.get("source")
    if source is None:
        stored = registry.get_model(ws.store, model)
        source = stored.source if stored else "local"
    return model_source(source) is None


def _describe(intent: AliasIntent) -> str:
    to = f" to v{intent.to_version}" if intent.to_version is not None else ""
    return f"an interrupted {intent.action} of {intent.model} {intent.alias}{to} by {intent.actor}"


def _v(n: int | None) -> str:
    return "nothing" if n is None else f"v{n}"


def _compare(
    ws: Workspace, conn: sqlite3.Connection, model: str, alias: str
) -> tuple[Version | None, serving.Pointer | None, str | None]:
    """(the store's version, the pointer, what is wrong or None)."""
    number = registry.alias_version(conn, model, alias)
    version = None if number is None else registry.read_version(conn, model, number)
    pointer = serving.read_pointer(ws, model, alias)
    if serving.agrees(pointer, version, ws):
        return version, pointer, None
    if number is not None and version is None:
        return version, pointer, f"{model} {alias} is v{number}, which is not in the registry"
    if pointer is None:
        exists = serving.pointer_path(ws, model, alias).exists()
        what = "cannot be read" if exists else "is missing"
        return version, pointer, f"{model} {alias} is {_v(number)}, but its serving pointer {what}"
    if version is None:
        return version, pointer, f"{model} has no {alias}, but its pointer names v{pointer.version}"
    if pointer.version != version.version:
        return (
            version,
            pointer,
            f"{model} {alias} is v{version.version}, but its pointer names v{pointer.version}",
        )
    return (
        version,
        pointer,
        f"{model} {alias} pointer names v{pointer.version} with another artifact or sha256"
        " than the record",
    )


def served_aliases(ws: Workspace, conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """Local (model, alias) pairs that have a pointer, or had one written by Lookout."""
    pairs = set(serving.pointed(ws))
    with contextlib.suppress(sqlite3.OperationalError):  # a store not yet migrated
        pairs |= intents.served(conn)
    return sorted(p for p in pairs if _local(ws, p[0]))


def check(ws: Workspace) -> list[Finding]:
    """What disagrees right now, read only (for `lookout status`)."""
    conn = ws.store.conn
    found = []
    for model, alias in served_aliases(ws, conn):
        version, pointer, problem = _compare(ws, conn, model, alias)
        if problem is not None:
            found.append(
                Finding(
                    model,
                    alias,
                    None if version is None else version.version,
                    None if pointer is None else pointer.version,
                    problem,
                )
            )
    return found


class Reconciler:
    """Settles one workspace; the scheduler keeps one across passes (it remembers which
    artifacts it already hashed, by inode, size and mtime)."""

    def __init__(self, ws: Workspace, actor: str = "scheduler"):
        self.ws = ws
        self.actor = actor
        self.hashed: dict[str, tuple[tuple[int, int, int, int], bool]] = {}

    def run(self) -> list[Finding]:
        """One pass: abandoned intents, then every served pointer, then its artifact."""
        ws = self.ws
        conn = ws.store.conn
        found: list[Finding] = []
        pending = intents.pending(conn)
        busy = {(i.model, i.alias) for i in pending if not intents.abandoned(i)}
        for model, alias in sorted({(i.model, i.alias) for i in pending} - busy):
            finding = self.settle(model, alias)
            if finding is not None:
                found.append(finding)
        for model, alias in served_aliases(ws, conn):
            if (model, alias) in busy:
                continue
            version, _, problem = _compare(ws, conn, model, alias)
            if problem is not None:
                finding = self.settle(model, alias)
                if finding is not None:
                    found.append(finding)
            else:
                if serving.leftovers(ws, model, alias):
                    self._tidy(model, alias)
                finding = None if version is None else self._artifact(model, alias, version)
                if finding is not None:
                    found.append(finding)
        return found

    def _tidy(self, model: str, alias: str) -> None:
        """Remove staged files a change killed after its commit left beside the pointer;
        under the write lock, which a live change holds from staging to commit."""
        with self.ws.store.write() as conn:
            if not any(i.alias == alias for i in intents.pending(conn, model)):
                names = serving.leftovers(self.ws, model, alias)
                serving.remove_leftovers(self.ws, model, alias, names)

    def _artifact(self, model: str, alias: str, version: Version) -> Finding | None:
        """Re-hash a serving artifact when its inode, size or mtime changed."""
        ws = self.ws
        path = ws.config.resolve(str(version.artifact_path))
        try:
            fp = serving.artifact_fingerprint(ws, path)
        except (OSError, serving.ServingError) as exc:
            return self._critical(model, alias, version, version.version, str(exc))
        seen = self.hashed.get(str(path))
        if seen is not None and seen[0] == fp:
            ok = seen[1]
            problem = None if ok else f"{model} v{version.version}: artifact {path} changed"
        else:
            try:
                serving.verify_artifact(ws, version)
                ok, problem = True, None
            except serving.ServingError as exc:
                ok, problem = False, str(exc)
            self.hashed[str(path)] = (fp, ok)
        if problem is not None:
            return self._critical(model, alias, version, version.version, problem)
        self._clear(model, alias)
        return None

    def settle(self, model: str, alias: str) -> Finding | None:
        """Make one alias's outside state match the store, under the store's write lock (so
        no promotion is half-way through it); None when nothing needed doing."""
        ws = self.ws
        with ws.store.write() as conn:
            pending = [i for i in intents.pending(conn, model) if i.alias == alias]
            if any(not intents.abandoned(i) for i in pending):
                return None  # a live process is changing it right now
            if not _local(ws, model):
                return self._settle_connector(conn, model, alias, pending)
            version, pointer, problem = _compare(ws, conn, model, alias)
            leftovers = serving.leftovers(ws, model, alias)
            cause = "; ".join(_describe(i) for i in pending)
            if problem is None:
                for i in pending:
                    intents.finish(conn, i.id, "recovered", note="it never changed what serves")
                serving.remove_leftovers(ws, model, alias, leftovers)
                self._clear(model, alias, conn)
                return None
            recorded = registry.alias_version(conn, model, alias)
            was = None if pointer is None else pointer.version
            if recorded is not None and version is None:
                return self._critical(model, alias, None, was, problem, conn)
            if recorded is None and pointer is not None and not pending:
                # A pointer the store knows nothing about, and no interrupted change of ours
                # explains it: removing it could stop what serves. A person must look.
                return self._critical(model, alias, None, was, problem, conn)
            try:
                self._put_back(model, alias, version, leftovers)
            except serving.ServingError as exc:
                return self._critical(model, alias, version, was, f"{problem}; {exc}", conn)
            why = cause or "the pointer was changed outside Lookout"
            reason = sanitize(f"{problem}; put back to {_v(recorded)} ({why})", 500)
            audit.append(
                conn,
                self.actor,
                "repair",
                model,
                reason,
                {
                    "alias": alias,
                    "recorded": recorded,
                    "pointer_was": was,
                    "intents": [i.id for i in pending],
                },
            )
            events.raise_event(
                conn,
                "serving_repair",
                model,
                sanitize(
                    f"{model} {alias}: serving pointer put back to {_v(recorded)}; {why}", 300
                ),
                "warn" if pending else "error",
            )
            for i in pending:
                intents.finish(conn, i.id, "recovered", note=f"pointer put back to {_v(recorded)}")
            serving.remove_leftovers(ws, model, alias, serving.leftovers(ws, model, alias))
            self._clear(model, alias, conn)
        return Finding(model, alias, recorded, was, problem, repaired=True)

    def _put_back(
        self, model: str, alias: str, version: Version | None, leftovers: list[str]
    ) -> None:
        """Write the pointer the store asks for; on a full disk, rename a kept copy back."""
        ws = self.ws
        try:
            serving.put(ws, model, alias, version, self.actor)
        except serving.ServingError:
            if version is not None:
                for name in leftovers:
                    if serving.restore_from(ws, model, alias, name, version):
                        return
            raise

    def _settle_connector(
        self, conn: sqlite3.Connection, model: str, alias: str, pending: list[AliasIntent]
    ) -> Finding | None:
        """A connector's alias an interrupted change may have moved: set it to the store's."""
        if not pending:
            return None  # the connector's sync follows moves made there
        ws = self.ws
        cfg = ws.config.models.get(model) or {}
        stored = registry.get_model(ws.store, model)
        connector = model_source(cfg.get("source") or (stored.source if stored else None))
        assert connector is not None
        recorded = registry.alias_version(conn, model, alias)
        cause = "; ".join(_describe(i) for i in pending)
        try:
            if recorded is None:
                connector.delete_alias(ws, model, alias)
            else:
                connector.set_alias(ws, model, alias, recorded)
        except Exception as exc:
            problem = f"{cause} left {connector.title} unsettled: {calls.failure(exc)}"
            return self._critical(model, alias, None, None, problem, conn)
        reason = sanitize(f"{connector.title} {alias} set again to {_v(recorded)} ({cause})", 500)
        audit.append(
            conn,
            self.actor,
            "repair",
            model,
            reason,
            {"alias": alias, "recorded": recorded, "intents": [i.id for i in pending]},
        )
        events.raise_event(conn, "serving_repair", model, reason, "warn")
        for i in pending:
            intents.finish(conn, i.id, "recovered", note=f"{connector.title} set to {_v(recorded)}")
        self._clear(model, alias, conn)
        return Finding(model, alias, recorded, None, cause, repaired=True)

    def _critical(
        self,
        model: str,
        alias: str,
        version: Version | None,
        was: int | None,
        problem: str,
        conn: sqlite3.Connection | None = None,
    ) -> Finding:
        text = sanitize(f"{problem}; what serves may not be what was approved", 500)
        with self.ws.store.write() if conn is None else contextlib.nullcontext(conn) as c:
            events.raise_event(c, CRITICAL, model, text, "error", dedup_key=_key(model, alias))
        recorded = None if version is None else version.version
        return Finding(model, alias, recorded, was, problem)

    def _clear(self, model: str, alias: str, conn: sqlite3.Connection | None = None) -> None:
        key = _key(model, alias)
        c = self.ws.store.conn if conn is None else conn
        if events.open_event(c, key) is None:
            return
        with self.ws.store.write() if conn is None else contextlib.nullcontext(conn) as w:
            events.resolve(w, key)


def settle(ws: Workspace, model: str, alias: str, actor: str) -> Finding | None:
    """Settle one alias (a promotion command does this before it acts on it)."""
    return Reconciler(ws, actor).settle(model, alias)

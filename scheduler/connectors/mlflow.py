"""The MLflow connector: mirror an MLflow model registry into the store and move its aliases.

It speaks MLflow's REST API over httpx (no `mlflow` import), so Lookout needs
nothing from MLflow but a URL. `sync()` copies registered models, versions and
aliases into the store as models with source "mlflow"; alias moves made in
MLflow by someone else are recorded as `external` transitions with an audit
entry and a timeline event. `set_alias()` / `delete_alias()` are what
promotion and rollback call for MLflow-backed models: `MLFLOW` is this
module's row in the connector table (`lookout.scheduler.connectors`).

MLflow's alias for production is configurable (`[mlflow] production_alias`,
e.g. "champion"); inside Lookout it is always `production` (and
`candidate_alias` is `candidate`).

When MLflow is down or slow every call fails after its timeout and a few
retries with one clear `MlflowError` line; `sync()` then keeps the mirror as
it was and records the error, and `last_sync()` tells panes how stale it is.

httpx is imported where a request is made: the config reads the connector
table, and reading a config must stay light.
"""

from __future__ import annotations

import base64
import math
import os
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from lookout.scheduler import calls
from lookout.scheduler.connectors.base import (
    SyncStatus,
    record_sync_failure,
    record_sync_success,
    sync_status,
)
from lookout.scheduler.validate import Key, duration, list_of, nonempty, table, url
from lookout.storage import audit, events, external, intents, registry
from lookout.storage.db import Store, now
from lookout.storage.identity import current_user
from lookout.storage.records import Model
from lookout.storage.text import sanitize

if TYPE_CHECKING:
    import httpx
    from lookout.scheduler.connectors import ModelSource
    from lookout.scheduler.workspace import Workspace

SOURCE = "mlflow"
API = "/api/2.0/mlflow/"
ENV_URI = "MLFLOW_TRACKING_URI"
RETRIES = 2  # extra attempts after a timeout, a refused connection, 429 or 5xx
BACKOFF = 0.25  # seconds before the first retry; doubles each time
PAGE = 200
ACTOR = "mlflow"

# The [mlflow] section of lookout.toml.
SETTINGS = table(
    {
        "tracking_uri": Key(url),
        "production_alias": Key(nonempty, default="champion"),
        "candidate_alias": Key(nonempty, default="challenger"),
        "models": Key(list_of(nonempty), default=list),
        "token_env": Key(nonempty),
        "token_file": Key(nonempty),
        "username_env": Key(nonempty),
        "password_env": Key(nonempty),
        "timeout": Key(duration, default=5.0),
        "poll": Key(duration, default=30.0),
    }
)


class MlflowError(calls.Told):
    """MLflow could not be reached or refused a request; the message is one line for the user.

    `error_code` is MLflow's own code when it answered (e.g. RESOURCE_DOES_NOT_EXIST).
    """

    def __init__(self, message: str, error_code: str | None = None):
        super().__init__(message)
        self.error_code = error_code

    @property
    def missing(self) -> bool:
        return self.error_code == "RESOURCE_DOES_NOT_EXIST"


@dataclass(frozen=True)
class SyncReport:
    """What one sync did. On failure `ok` is false and the mirror is left as it was."""

    ok: bool
    models: int = 0
    versions_added: int = 0
    external_changes: int = 0
    error: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _RemoteVersion:
    version: int
    run_id: str | None
    source: str | None
    status: str | None
    tags: dict[str, str]
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _RemoteModel:
    name: str
    aliases: dict[str, int]  # Lookout alias name -> version
    versions: tuple[_RemoteVersion, ...]


# -- configuration and auth -----------------------------------------------------------


def section(ws: Workspace) -> dict[str, Any]:
    """The workspace's `[mlflow]` section, every default filled in."""
    return ws.config.connectors[SOURCE]


def tracking_uri(ws: Workspace) -> str | None:
    """`[mlflow] tracking_uri`, else $MLFLOW_TRACKING_URI (as MLflow's own tools do)."""
    uri = section(ws).get("tracking_uri") or os.environ.get(ENV_URI, "").strip()
    return uri or None


def enabled(ws: Workspace) -> bool:
    """Is an MLflow server configured? The scheduler only syncs when it is."""
    return tracking_uri(ws) is not None


def interval(ws: Workspace) -> float:
    """Seconds between syncs: `[mlflow] poll`."""
    return float(section(ws)["poll"])


def to_mlflow_alias(ws: Workspace, alias: str) -> str:
    """Lookout's alias name as MLflow spells it (production -> champion by default)."""
    cfg = section(ws)
    return {"production": cfg["production_alias"], "candidate": cfg["candidate_alias"]}.get(
        alias, alias
    )


def from_mlflow_alias(ws: Workspace, alias: str) -> str | None:
    """MLflow's alias name as Lookout spells it; None for one that would be ambiguous."""
    cfg = section(ws)
    if alias == cfg["production_alias"]:
        return "production"
    if alias == cfg["candidate_alias"]:
        return "candidate"
    if alias in ("production", "candidate"):
        return None  # a literal "production" in MLflow that is not the configured one
    return alias


def _env(name: str) -> str:
    try:
        return calls.secret_from_env(name, "mlflow")
    except calls.SecretError as exc:
        raise MlflowError(str(exc)) from None


def _token(value: str, where: str) -> str:
    """A bearer token that can travel in a header; refused naming where it came from, never
    showing it (httpx would quote the whole header in its error)."""
    problem = calls.bad_credential(value)
    if problem:
        raise MlflowError(f"{where} {problem}; expected one token on one line")
    return value


def _read_token_file(path: Path) -> str:
    try:
        token = calls.secret_from_file(path, "mlflow")
    except calls.SecretError as exc:
        raise MlflowError(str(exc)) from None
    return _token(token, f"{path}: the token file")


def _credentials(ws: Workspace) -> tuple[dict[str, str], list[str]]:
    """The Authorization header and the secrets it holds (to keep them out of messages)."""
    cfg = section(ws)
    token: str | None = None
    if cfg.get("token_env"):
        where = f"environment variable {cfg['token_env']} (named in [mlflow])"
        token = _token(_env(cfg["token_env"]), where)
    elif cfg.get("token_file"):
        token = _read_token_file(ws.config.resolve(cfg["token_file"]))
    elif not cfg.get("username_env"):
        token = os.environ.get("MLFLOW_TRACKING_TOKEN") or None
        if token:
            token = _token(token, "environment variable MLFLOW_TRACKING_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}, [token]
    if cfg.get("username_env"):
        if not cfg.get("password_env"):
            raise MlflowError("[mlflow] username_env needs password_env too")
        user, password = _env(cfg["username_env"]), _env(cfg["password_env"])
    else:
        user = os.environ.get("MLFLOW_TRACKING_USERNAME", "")
        password = os.environ.get("MLFLOW_TRACKING_PASSWORD", "")
        if not (user and password):
            return {}, []
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {basic}"}, [password, basic]


# -- the HTTP client ------------------------------------------------------------------


class _Client:
    """One MLflow server: REST calls with a timeout, retries and one-line errors."""

    def __init__(self, ws: Workspace):
        uri = tracking_uri(ws)
        if uri is None:
            raise MlflowError(f"MLflow is not configured: set [mlflow] tracking_uri or ${ENV_URI}")
        if not re.match(r"^https?://[^\s/]+", uri):
            raise MlflowError(
                "MLflow tracking URI must start with http:// or https://, got "
                + sanitize(uri, 100, single_line=True)
            )
        self.base = uri.rstrip("/") + API
        self.shown = calls.shown_url(uri)
        self.timeout = float(section(ws)["timeout"])
        headers, self._secrets = _credentials(ws)
        self._secrets.append(urlsplit(uri).password or "")
        import httpx

        self.http = httpx.Client(timeout=self.timeout, headers=headers, follow_redirects=False)

    def __enter__(self) -> _Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def call(
        self,
        method: str,
        endpoint: str,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One REST call; asked again on timeouts, refused connections, 429 and 5xx (with
        backoff, jitter and Retry-After, `lookout.scheduler.calls`). A transport error is
        told by its kind, never its text, which can quote the Authorization header."""

        def once() -> calls.Attempt[dict[str, Any] | MlflowError]:
            response = calls.sent(
                lambda: self.http.request(method, self.base + endpoint, params=params, json=body),
                f"MLflow at {self.shown}",
                self.timeout,
                MlflowError,
                self._secrets,
            )
            if isinstance(response, calls.Attempt):
                return response
            if response.status_code == 429 or response.status_code >= 500:
                after = calls.retry_after(response.headers.get("Retry-After"))
                return calls.Attempt(self._refused(response), again=True, after=after)
            if response.status_code >= 400:
                return calls.Attempt(self._refused(response))
            try:
                data = response.json()
            except ValueError:
                return calls.Attempt(
                    MlflowError(f"MLflow at {self.shown} sent an answer that is not JSON")
                )
            if not isinstance(data, dict):
                return calls.Attempt(
                    MlflowError(f"MLflow at {self.shown} sent an unexpected answer")
                )
            return calls.Attempt(data)

        got, attempts = calls.call(once, RETRIES, BACKOFF)
        if isinstance(got, MlflowError):
            if attempts > 1:
                raise MlflowError(f"{got} (tried {attempts} times)", got.error_code)
            raise got
        return got

    def _refused(self, response: httpx.Response) -> MlflowError:
        """HTTP status plus MLflow's own error code and message, sanitized."""
        detail = ""
        code: str | None = None
        try:
            data = response.json()
            if isinstance(data, dict):
                code = str(data.get("error_code") or "") or None
                detail = f"{code or ''}: {data.get('message', '')}".strip(": ")
        except ValueError:
            detail = response.text[:200]
        text = f"MLflow at {self.shown} answered HTTP {response.status_code}"
        if response.status_code in (401, 403):
            text += " (check the [mlflow] credentials)"
        return MlflowError(
            calls.scrub(f"{text}: {detail}" if detail else text, self._secrets), code
        )

    def pages(self, endpoint: str, key: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every item of a paged search endpoint."""
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = dict(params, max_results=PAGE)
            if token:
                page["page_token"] = token
            data = self.call("GET", endpoint, params=page)
            items.extend(x for x in data.get(key, []) if isinstance(x, dict))
            token = data.get("next_page_token")
            if not token:
                return items


# -- reading MLflow -------------------------------------------------------------------


def _pairs(items: Any) -> dict[str, str]:
    """MLflow's [{"key": k, "value": v}] lists as a dict of sanitized strings."""
    out: dict[str, str] = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and "key" in item:
            out[sanitize(item["key"], 100, single_line=True)] = sanitize(
                item.get("value", ""), 500, single_line=True
            )
    return out


def _metrics(items: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        try:
            value = float(item["value"])
        except (KeyError, TypeError, ValueError):
            continue
        if math.isfinite(value):  # NaN and inf cannot be compared or shown as JSON
            out[sanitize(item.get("key", ""), 100, single_line=True)] = value
    return out


def _filter_name(name: str) -> str:
    quote = '"' if "'" in name else "'"
    return f"name = {quote}{name}{quote}"


def _model_names(ws: Workspace, client: _Client) -> list[str]:
    """`[mlflow] models` (every registered model when empty) plus models configured as mlflow."""
    names = list(section(ws)["models"])
    if not names:
        found = client.pages("registered-models/search", "registered_models", {})
        names = [str(m["name"]) for m in found if m.get("name")]
    configured = [n for n, m in ws.config.models.items() if m["source"] == SOURCE]
    return names + [n for n in configured if n not in names]


def _run_details(client: _Client, run_id: str) -> tuple[dict[str, float], dict[str, str]]:
    """A version's training run metrics and params (none when the run is gone)."""
    try:
        data = client.call("GET", "runs/get", params={"run_id": run_id})
    except MlflowError as exc:
        if exc.missing:
            return {}, {}
        raise
    run_data = data.get("run", {}).get("data", {}) if isinstance(data.get("run"), dict) else {}
    return _metrics(run_data.get("metrics")), _pairs(run_data.get("params"))


def _fetch_model(
    ws: Workspace, client: _Client, name: str, known_versions: set[int]
) -> _RemoteModel | None:
    """One registered model with its aliases (from `get`) and versions; None if it is gone."""
    try:
        data = client.call("GET", "registered-models/get", params={"name": name})
    except MlflowError as exc:
        if exc.missing:
            return None
        raise
    model = data.get("registered_model", {})
    aliases: dict[str, int] = {}
    for item in model.get("aliases", []) if isinstance(model, dict) else []:
        alias = from_mlflow_alias(ws, str(item.get("alias", "")))
        try:
            version = int(item["version"])
        except (KeyError, TypeError, ValueError):
            continue
        if alias:
            aliases[sanitize(alias, 64, single_line=True)] = version
    versions = []
    for v in client.pages(
        "model-versions/search", "model_versions", {"filter": _filter_name(name)}
    ):
        try:
            number = int(v["version"])
        except (KeyError, TypeError, ValueError):
            continue
        run_id = v.get("run_id") or None
        metrics: dict[str, float] = {}
        params: dict[str, str] = {}
        if number not in known_versions and run_id:
            metrics, params = _run_details(client, str(run_id))
        versions.append(
            _RemoteVersion(
                version=number,
                run_id=run_id,
                source=v.get("source"),
                status=v.get("status"),
                tags=_pairs(v.get("tags")),
                metrics=metrics,
                params=params,
            )
        )
    versions.sort(key=lambda rv: rv.version)
    return _RemoteModel(name, aliases, tuple(versions))


# -- sync -----------------------------------------------------------------------------


def last_sync(store: Store) -> SyncStatus:
    """When the MLflow mirror was last refreshed, and why the last attempt failed if it did."""
    return sync_status(store, SOURCE)


def sync(ws: Workspace) -> SyncReport:
    """Mirror MLflow's registry into the store; never raises for MLflow trouble.

    Reads everything first (outside any transaction), then applies it in one
    write transaction. On failure the mirror stays as it was and the error is
    recorded for `last_sync()`.
    """
    store = ws.store
    started = now()
    remote: list[_RemoteModel] = []
    notes: list[str] = []
    try:
        with _Client(ws) as client:
            for name in _model_names(ws, client):
                if name != sanitize(name, 200, single_line=True):
                    # A name that cannot be shown as it is could not be acted on safely either.
                    notes.append(
                        f"{sanitize(name, 64, single_line=True)!r}: unprintable name; skipped"
                    )
                    continue
                have = {v.version for v in registry.list_versions(store, name)}
                fetched = _fetch_model(ws, client, name, have)
                if fetched is None:
                    notes.append(f"{sanitize(name, 64, single_line=True)}: not in MLflow")
                else:
                    remote.append(fetched)
    except MlflowError as exc:
        if enabled(ws):
            record_sync_failure(store, SOURCE, started, str(exc))
        return SyncReport(False, error=str(exc))
    added = changes = 0
    with store.write() as conn:
        for model in remote:
            existing = registry.get_model(store, model.name)
            if existing is not None and existing.source != SOURCE:
                notes.append(f"{sanitize(model.name, 64)}: a local model has this name; skipped")
                continue
            a, c = _apply(ws, conn, model, existing, started)
            added += a
            changes += c
        record_sync_success(conn, SOURCE, started)
    return SyncReport(True, len(remote), added, changes, None, tuple(notes))


def _apply(
    ws: Workspace,
    conn: sqlite3.Connection,
    model: _RemoteModel,
    current: Model | None,
    started: float,
) -> tuple[int, int]:
    """Mirror one model inside the sync transaction; returns (versions added, external moves)."""
    store = ws.store
    configured = ws.config.models.get(model.name)
    task = configured["task"] if configured else (current.task if current else "classification")
    metric = (
        configured["primary_metric"] if configured else (current.primary_metric if current else "")
    )
    registry.ensure_model(store, model.name, task, metric, source=SOURCE)
    have = {v.version for v in registry.list_versions(store, model.name)}
    added = 0
    for v in model.versions:
        if v.version in have:
            continue
        lineage = {"mlflow_run_id": v.run_id, "mlflow_source": v.source, "mlflow_status": v.status}
        registry.register_version(
            store,
            model.name,
            version=v.version,
            metrics=v.metrics,
            params=v.params,
            tags=v.tags,
            lineage={k: val for k, val in lineage.items() if val},
        )
        have.add(v.version)
        added += 1
    known = external.read(conn, SOURCE, f"model:{model.name}")
    touched: dict[str, float] = dict(known.value.get("touched", {})) if known else {}
    local = registry.aliases(store, model.name)
    # An alias a Lookout promotion was changing when its process died: MLflow may hold the
    # half-made move. Reconcile sets it back from the store; it is not a move made in MLflow.
    unsettled = {i.alias for i in intents.pending(conn, model.name)}
    changes = 0
    for alias in sorted(set(model.aliases) | set(local)):
        if touched.get(alias, 0.0) >= started or alias in unsettled:
            continue  # Lookout moved it while we were reading; what we read is older
        theirs, ours = model.aliases.get(alias), local.get(alias)
        if theirs == ours or (theirs is not None and theirs not in have):
            continue
        if current is None or known is None:
            registry.move_alias(
                conn,
                model.name,
                alias,
                theirs,
                kind="external",
                actor=ACTOR,
                reason="imported from MLflow",
            )
            continue
        _external_move(ws, conn, model.name, alias, ours, theirs)
        changes += 1
    external.put(
        conn,
        SOURCE,
        f"model:{model.name}",
        {"aliases": model.aliases, "versions": sorted(have), "touched": touched},
    )
    return added, changes


def _external_move(
    ws: Workspace,
    conn: sqlite3.Connection,
    model: str,
    alias: str,
    ours: int | None,
    theirs: int | None,
) -> None:
    """Follow an alias move made in MLflow, and say so in the audit and on the timeline."""
    name = to_mlflow_alias(ws, alias)
    before = "unset" if ours is None else f"v{ours}"
    after = "removed" if theirs is None else f"v{theirs}"
    reason = f"{alias} ({name} in MLflow) moved from {before} to {after} outside Lookout"
    registry.move_alias(conn, model, alias, theirs, kind="external", actor=ACTOR, reason=reason)
    audit.append(
        conn,
        ACTOR,
        "alias.external",
        model,
        reason,
        {
            "alias": alias,
            "mlflow_alias": name,
            "from_version": ours,
            "to_version": theirs,
            "observed_by": current_user(),
        },
    )
    events.raise_event(conn, "external_change", model, f"{model}: {reason}", severity="warn")


# -- changing aliases (promotion and rollback) ------------------------------------------


def _touch(ws: Workspace, model: str, alias: str, version: int | None) -> None:
    """Remember that Lookout itself just moved this alias, so sync does not call it external."""
    with ws.store.write() as conn:
        known = external.read(conn, SOURCE, f"model:{model}")
        value: dict[str, Any] = dict(known.value) if known else {"aliases": {}, "versions": []}
        aliases = dict(value.get("aliases", {}))
        if version is None:
            aliases.pop(alias, None)
        else:
            aliases[alias] = version
        value["aliases"] = aliases
        value["touched"] = {**value.get("touched", {}), alias: now()}
        external.put(conn, SOURCE, f"model:{model}", value, known.fetched_at if known else None)


def set_alias(ws: Workspace, model: str, alias: str, version: int) -> None:
    """Point a Lookout alias (e.g. `production`) at a version in MLflow; raises MlflowError.

    Joins the caller's store transaction if it has one, so the note that
    Lookout made this move commits (or rolls back) with the promotion.
    """
    with _Client(ws) as client:
        client.call(
            "POST",
            "registered-models/alias",
            body={"name": model, "alias": to_mlflow_alias(ws, alias), "version": str(version)},
        )
    _touch(ws, model, alias, version)


def delete_alias(ws: Workspace, model: str, alias: str) -> None:
    """Remove a Lookout alias from a model in MLflow (already absent is fine); raises MlflowError."""
    params = {"name": model, "alias": to_mlflow_alias(ws, alias)}
    with _Client(ws) as client:
        try:
            client.call("DELETE", "registered-models/alias", params=params, body=params)
        except MlflowError as exc:
            if not exc.missing:
                raise
    _touch(ws, model, alias, None)


class MlflowConnector:
    """MLflow's row in the connector table: a `ModelSource` (see `lookout.scheduler.connectors`)."""

    name = SOURCE
    title = "MLflow"
    settings = staticmethod(SETTINGS)
    enabled = staticmethod(enabled)
    interval = staticmethod(interval)
    sync = staticmethod(sync)
    health = staticmethod(last_sync)
    set_alias = staticmethod(set_alias)
    delete_alias = staticmethod(delete_alias)


MLFLOW: ModelSource = MlflowConnector()

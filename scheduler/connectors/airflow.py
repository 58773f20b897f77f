"""The Airflow connector: Airflow's DAG runs as Lookout runs, and Lookout's keys driving them.

Teams whose training outgrew one host run it on Airflow; Lookout is then the
console over those DAG runs without moving them. A pipeline of
`kind = "airflow"` names its `dag_id` and the `model` it produces:

- **Mirror.** `sync()` copies each DAG's runs into the store as Lookout runs
  (`lookout.storage.mirror`) and their task instances as stages, in the DAG's
  task order, with state, times, try number and operator. The first pass reads
  the newest `[airflow] history` runs; later passes ask Airflow only for runs
  and task instances updated since the last pass (by Airflow's own clock, with
  an overlap). Runs Airflow started itself (its schedule, its UI) appear
  marked by who started them. A task's log is fetched only when someone
  opens its stage (`fetch_log`).
- **Drive.** `trigger` (with conf), `clear_failed` (Airflow's "clear, failed
  tasks only") and `mark_failed` (how a DAG run is cancelled) are what the
  scheduler calls for a pipeline's run, retry and cancel requests, so they go
  through the same requests, roles and records as local pipelines.
- **Registration.** A DAG's last task records its version through the SDK
  with the DAG run in its lineage (`examples/airflow/`); each sync links new
  versions to their mirrored run, makes them `candidate` and opens the gated
  promotion request, as a local pipeline's register stage does.

It speaks Airflow 3's stable REST API (`/api/v2`) with httpx: the handful of
endpoints it needs do not justify `apache-airflow-client`, whose generated
models follow Airflow's own release pins. Credentials are a bearer token, or a
user name and password exchanged at `/auth/token` (the token is kept until it
expires). When Airflow is down or slow, calls give up after `timeout` and two
retries with one clear `AirflowError` line; the mirror keeps its last state and
`health()` says how stale it is.

httpx is imported where a request is made: the config reads this module, and
reading a config must stay light.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import hashlib
import json
import threading
import uuid
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from lookout.scheduler import calls
from lookout.scheduler.connectors.base import (
    ConnectorError,
    SyncStatus,
    record_sync_failure,
    record_sync_success,
    sync_status,
)
from lookout.scheduler.validate import (
    Checker,
    Invalid,
    Key,
    duration,
    free_table,
    integer,
    join,
    nonempty,
    table,
    url,
)
from lookout.storage import external, mirror, pipelines, registry
from lookout.storage.db import Store, now
from lookout.storage.records import MirroredRun, MirroredStage, Run
from lookout.storage.text import sanitize

if TYPE_CHECKING:
    import httpx
    from lookout.scheduler.connectors import PipelineSource
    from lookout.scheduler.workspace import Workspace

SOURCE = "airflow"
API = "/api/v2"
RETRIES = 2  # extra attempts after a timeout, a refused connection, 429 or 5xx
BACKOFF = 0.25  # seconds before the first retry; doubles each time
PAGE = 1000  # items asked per page; Airflow serves at most its [api] maximum_page_limit (100)
OVERLAP = 15.0  # seconds each incremental pass reads again: a change commits after its stamp
LOG_LINES = 200  # the last lines of a task's log kept on its stage

# Airflow's DAG run states and task instance states, and the Lookout word for each: one to
# one (the README shows this table). A task instance with no state yet is `pending`.
RUN_STATES = {"queued": "queued", "running": "running", "success": "succeeded", "failed": "failed"}
TASK_STATES = {
    None: "pending",
    "scheduled": "scheduled",
    "queued": "queued",
    "running": "running",
    "success": "succeeded",
    "failed": "failed",
    "upstream_failed": "upstream_failed",
    "skipped": "skipped",
    "up_for_retry": "up_for_retry",
    "up_for_reschedule": "up_for_reschedule",
    "restarting": "restarting",
    "deferred": "deferred",
    "removed": "removed",
    "awaiting_input": "awaiting_input",
}
# Airflow's run types as Lookout triggers (who started the run is kept beside it).
RUN_TYPES = {
    "scheduled": "schedule",
    "manual": "manual",
    "backfill": "backfill",
    "asset_triggered": "asset",
    "asset_materialization": "asset",
    "operator_triggered": "operator",
}
_SECRET_KEYS = ("token_env", "token_file", "password_env", "password_file")


def _settings(path: str, v: Any) -> dict[str, Any]:
    """The `[airflow]` section: its keys, then which credentials go together."""
    out = table(
        {
            "base_url": Key(url),
            "username": Key(nonempty),
            "password_env": Key(nonempty),
            "password_file": Key(nonempty),
            "token_env": Key(nonempty),
            "token_file": Key(nonempty),
            "timeout": Key(duration, default=10.0),
            "poll": Key(duration, default=15.0),
            "history": Key(integer(1, 100_000), default=200),
        }
    )(path, v)
    given = [k for k in _SECRET_KEYS if out[k] is not None]
    if len(given) > 1:
        raise Invalid(join(path, given[1]), f"set only one of {', '.join(_SECRET_KEYS)}")
    if given and given[0].startswith("password") and out["username"] is None:
        raise Invalid(join(path, "username"), f"missing required key ({given[0]} needs it)")
    if out["username"] is not None and not (given and given[0].startswith("password")):
        raise Invalid(join(path, "password_env"), "username needs password_env or password_file")
    return out


SETTINGS: Checker = _settings

# Keys an airflow pipeline adds to its [pipelines.NAME] table.
PIPELINE_KEYS = {"dag_id": Key(nonempty), "conf": Key(free_table, default=dict)}
# Keys of a local pipeline that mean nothing for one that Airflow runs, and why.
_NOT_FOR_AIRFLOW = {
    "dataset": "the DAG reads its own data",
    "estimator": "the DAG trains its own model",
    "schedule": "Airflow runs the DAG on its own schedule",
    "stages": "the DAG's tasks are its stages",
}


def check_pipeline(path: str, pipeline: dict[str, Any], section: dict[str, Any]) -> None:
    """Cross-field rules for `[pipelines.NAME]` with kind "airflow"."""
    for key in ("dag_id", "model"):
        if pipeline[key] is None:
            raise Invalid(join(path, key), "missing required key (airflow pipeline)")
    for key, why in _NOT_FOR_AIRFLOW.items():
        if pipeline[key]:
            raise Invalid(join(path, key), f"not for an airflow pipeline ({why})")
    if pipeline["triggers"]["files"]:
        raise Invalid(join(path, "triggers.files"), "not for an airflow pipeline")
    if section["base_url"] is None:
        raise Invalid(join(path, "kind"), "an airflow pipeline needs [airflow] base_url")


class AirflowError(ConnectorError):
    """Airflow could not be reached or refused a request; the message is one line for the user."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class SyncReport:
    """What one sync did. On failure `ok` is false and what failed is in `error`."""

    ok: bool
    runs_added: int = 0
    runs_changed: int = 0
    versions: int = 0  # new versions made candidate
    error: str | None = None
    notes: tuple[str, ...] = ()


# -- configuration and credentials --------------------------------------------------------


def section(ws: Workspace) -> dict[str, Any]:
    """The workspace's `[airflow]` section, every default filled in."""
    return ws.config.connectors[SOURCE]


def airflow_pipelines(ws: Workspace) -> dict[str, dict[str, Any]]:
    """The configured pipelines Airflow runs."""
    return {n: p for n, p in ws.config.pipelines.items() if p["kind"] == SOURCE}


def enabled(ws: Workspace) -> bool:
    """An Airflow to mirror, and pipelines to mirror from it."""
    return section(ws)["base_url"] is not None and bool(airflow_pipelines(ws))


def interval(ws: Workspace) -> float:
    """Seconds between syncs: `[airflow] poll`."""
    return float(section(ws)["poll"])


def _shown(base: str) -> str:
    """The URL without any user:password part, for messages."""
    parts = urlsplit(base)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _at(value: Any) -> float | None:
    """Airflow's ISO 8601 time as epoch seconds."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return dt.datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")


def _expiry(token: str) -> float:
    """When a JWT expires (its `exp` claim, unverified: Airflow checks it); soon if unreadable."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, KeyError, TypeError, ValueError):
        return now() + 300


# Tokens from /auth/token by (base URL, user, password digest): one exchange per token
# lifetime, not per call; another password (a corrected one, another workspace) gets its own.
_tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()


# -- the HTTP client ----------------------------------------------------------------------


class _Client:
    """One Airflow API server: REST calls with a timeout, retries and one-line errors."""

    def __init__(self, ws: Workspace):
        cfg = section(ws)
        base = cfg["base_url"]
        if base is None:
            raise AirflowError("Airflow is not configured: set [airflow] base_url")
        self.base = base.rstrip("/")
        self.shown = sanitize(_shown(self.base), 100, single_line=True)
        self.timeout = float(cfg["timeout"])
        self.server_time: float | None = None  # Airflow's clock at its first answer
        self._user: str | None = cfg["username"]
        self._password: str | None = None
        self._token: str | None = None
        self._secrets: list[str] = [urlsplit(self.base).password or ""]
        try:
            if cfg["token_env"]:
                self._token = calls.secret_from_env(cfg["token_env"], "airflow")
            elif cfg["token_file"]:
                self._token = calls.secret_from_file(
                    ws.config.resolve(cfg["token_file"]), "airflow"
                )
            elif cfg["password_env"]:
                self._password = calls.secret_from_env(cfg["password_env"], "airflow")
            elif cfg["password_file"]:
                path = ws.config.resolve(cfg["password_file"])
                self._password = calls.secret_from_file(path, "airflow")
            else:
                raise AirflowError(
                    "no Airflow credentials: set [airflow] token_env or token_file, or username"
                    " with password_env or password_file"
                )
        except calls.SecretError as exc:
            raise AirflowError(str(exc)) from None
        self._secrets += [s for s in (self._token, self._password) if s]
        why = None if self._token is None else calls.bad_credential(self._token)
        if why is not None:
            raise AirflowError(f"the [airflow] token {why}; it cannot be sent in a header")
        import httpx

        self.http = httpx.Client(timeout=self.timeout, follow_redirects=False)

    def __enter__(self) -> _Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def _bearer(self, fresh: bool = False) -> str:
        """The token to send: the configured one, or one from /auth/token (kept until it expires)."""
        if self._token is not None:
            return self._token
        assert self._user is not None and self._password is not None
        key = (self.base, self._user, hashlib.sha256(self._password.encode()).hexdigest())
        with _tokens_lock:
            kept = _tokens.get(key)
            if kept is not None and not fresh and kept[1] > now() + 30:
                return kept[0]
        data = self._send(
            "POST",
            self.base + "/auth/token",
            body={"username": self._user, "password": self._password},
            auth=False,
        )
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise AirflowError(f"Airflow at {self.shown} sent no access token")
        self._secrets.append(token)
        with _tokens_lock:
            _tokens[key] = (token, _expiry(token))
        return token

    def call(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Any:
        """One `/api/v2` call; a refused password token is renewed once."""
        url = self.base + API + path
        try:
            return self._send(method, url, params, body)
        except AirflowError as exc:
            if exc.status not in (401, 403) or self._token is not None:
                raise
        return self._send(method, url, params, body, fresh=True)

    def _send(
        self,
        method: str,
        url: str,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        auth: bool = True,
        fresh: bool = False,
    ) -> Any:
        """Asked again on timeouts, refused connections, 429 and 5xx (with backoff, jitter and
        Retry-After, `lookout.scheduler.calls`); JSON back. A transport error is told by its
        kind, never its text, which can quote the Authorization header."""

        def once() -> calls.Attempt[Any]:
            headers = {"Accept": "application/json"}
            if auth:
                headers["Authorization"] = f"Bearer {self._bearer(fresh)}"
            response = calls.sent(
                lambda: self.http.request(method, url, params=params, json=body, headers=headers),
                f"Airflow at {self.shown}",
                self.timeout,
                AirflowError,
                self._secrets,
            )
            if isinstance(response, calls.Attempt):
                return response
            if self.server_time is None and "date" in response.headers:
                try:
                    date = email.utils.parsedate_to_datetime(response.headers["date"])
                    self.server_time = date.timestamp()
                except (TypeError, ValueError):
                    pass
            if response.status_code == 429 or response.status_code >= 500:
                after = calls.retry_after(response.headers.get("Retry-After"))
                return calls.Attempt(self._refused(response), again=True, after=after)
            if response.status_code >= 400:
                return calls.Attempt(self._refused(response))
            try:
                return calls.Attempt(response.json())
            except ValueError:
                problem = f"Airflow at {self.shown} sent an answer that is not JSON"
                return calls.Attempt(AirflowError(problem))

        got, attempts = calls.call(once, RETRIES, BACKOFF)
        if isinstance(got, AirflowError):
            if attempts > 1:
                raise AirflowError(f"{got} (tried {attempts} times)", got.status)
            raise got
        return got

    def _refused(self, response: httpx.Response) -> AirflowError:
        """HTTP status plus Airflow's own `detail`, sanitized."""
        detail = ""
        try:
            data = response.json()
            if isinstance(data, dict):
                raw = data.get("detail", "")
                detail = raw if isinstance(raw, str) else json.dumps(raw)[:200]
        except ValueError:
            detail = response.text[:200]
        code = response.status_code
        text = f"Airflow at {self.shown} answered HTTP {code}"
        if code in (401, 403):
            text += " (check the [airflow] credentials)"
        return AirflowError(
            calls.scrub(f"{text}: {detail}" if detail else text, self._secrets), code
        )

    def pages(
        self, path: str, key: str, params: dict[str, Any], most: int | None = None
    ) -> list[Any]:
        """Every item of a list endpoint (up to `most`), page by page with Airflow's cursor."""
        items: list[Any] = []
        cursor: str | None = ""
        while most is None or len(items) < most:
            data = self.call("GET", path, params={**params, "limit": PAGE, "cursor": cursor})
            got = data.get(key, []) if isinstance(data, dict) else []
            items.extend(x for x in got if isinstance(x, dict))
            cursor = data.get("next_cursor") if isinstance(data, dict) else None
            if not cursor or not got:
                break
        return items if most is None else items[:most]


def _seg(value: str) -> str:
    """One path segment, every reserved character escaped (run ids hold ':' and '+')."""
    return quote(value, safe="")


# -- reading Airflow ----------------------------------------------------------------------


def task_order(tasks: list[dict[str, Any]]) -> dict[str, int]:
    """The DAG's tasks in dependency order (upstream first; ties by task id)."""
    down = {
        str(t["task_id"]): [str(d) for d in t.get("downstream_task_ids") or []]
        for t in tasks
        if "task_id" in t
    }
    waiting = {t: 0 for t in down}
    for targets in down.values():
        for d in targets:
            if d in waiting:
                waiting[d] += 1
    ready = sorted(t for t, n in waiting.items() if n == 0)
    order: dict[str, int] = {}
    while ready:
        task = ready.pop(0)
        order[task] = len(order)
        for d in down[task]:
            if d in waiting:
                waiting[d] -= 1
                if waiting[d] == 0:
                    ready.append(d)
                    ready.sort()
    for task in sorted(down):  # a cycle Airflow would refuse: still show every task
        order.setdefault(task, len(order))
    return order


def _started_by(run: dict[str, Any]) -> str:
    """Who started a run Airflow started itself: its user and how (UI, CLI, timetable...)."""
    user = run.get("triggering_user_name")
    how = run.get("triggered_by")
    if user and how:
        return f"airflow:{user} ({how})"
    return f"airflow:{user or how or run.get('run_type') or 'unknown'}"


def _stage(ti: dict[str, Any], order: dict[str, int]) -> MirroredStage | None:
    state = ti.get("state")
    if state not in TASK_STATES:
        return None
    task = str(ti.get("task_id", ""))
    index = ti.get("map_index", -1)
    mapped = isinstance(index, int) and index >= 0
    tries = ti.get("try_number")
    return MirroredStage(
        name=f"{task}[{index}]" if mapped else task,
        position=order.get(task, len(order)) * 10_000 + (index + 1 if mapped else 0),
        status=TASK_STATES[state],
        started_at=_at(ti.get("start_date")),
        ended_at=_at(ti.get("end_date")),
        try_number=tries if isinstance(tries, int) else None,
        operator=ti.get("operator_name") or ti.get("operator"),
    )


def _run(
    data: dict[str, Any],
    stages: list[MirroredStage],
    trigger: str | None = None,
    by: str | None = None,
) -> MirroredRun:
    return MirroredRun(
        key=str(data["dag_run_id"]),
        status=RUN_STATES[data["state"]],
        trigger=trigger or RUN_TYPES.get(str(data.get("run_type")), str(data.get("run_type"))),
        triggered_by=by or _started_by(data),
        created_at=_at(data.get("queued_at")) or _at(data.get("run_after")) or now(),
        started_at=_at(data.get("start_date")),
        ended_at=_at(data.get("end_date")),
        error=None,  # the mirror names the first failed stage
        stages=tuple(sorted(stages, key=lambda s: s.position)),
    )


@dataclass
class _Fetched:
    """One pipeline's runs as read in one pass, and where the next pass starts."""

    runs: list[MirroredRun] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _read(
    ws: Workspace, client: _Client, name: str, pipeline: dict[str, Any], history: int
) -> _Fetched:
    """A pipeline's DAG runs changed since its last pass (its newest `history` at first)."""
    store = ws.store
    dag = pipeline["dag_id"]
    known = external.get(store, SOURCE, f"dag:{name}")
    state = dict(known.value) if known is not None else {}
    if state.get("dag_id") != dag:
        state = {"dag_id": dag}  # a new DAG for this pipeline: read its history again
    base = f"/dags/{_seg(dag)}"
    try:
        tasks = client.call("GET", f"{base}/tasks")
    except AirflowError as exc:
        if exc.status == 404:
            raise AirflowError(
                f"pipelines.{name}.dag_id: Airflow at {client.shown} has no DAG"
                f" {sanitize(dag, 100, single_line=True)!r}",
                404,
            ) from None
        raise
    order = task_order(tasks.get("tasks", []) if isinstance(tasks, dict) else [])
    since = state.get("since")
    if since is None:
        runs = client.pages(f"{base}/dagRuns", "dag_runs", {"order_by": "-run_after"}, history)
        first = min((r["run_after"] for r in runs if r.get("run_after")), default=None)
        tis = (
            client.pages(
                f"{base}/dagRuns/~/taskInstances", "task_instances", {"run_after_gte": first}
            )
            if first
            else []
        )
    else:
        runs = client.pages(f"{base}/dagRuns", "dag_runs", {"updated_at_gte": since})
        tis = client.pages(
            f"{base}/dagRuns/~/taskInstances", "task_instances", {"updated_at_gte": since}
        )
    by_run: dict[str, list[MirroredStage]] = {}
    fetched = _Fetched()
    for ti in tis:
        stage = _stage(ti, order)
        if stage is None:
            fetched.notes.append(f"{name}: task state {ti.get('state')!r} is unknown; skipped")
            continue
        by_run.setdefault(str(ti.get("dag_run_id")), []).append(stage)
    listed = {str(r.get("dag_run_id")) for r in runs}
    for key in sorted(set(by_run) - listed):  # tasks moved in a run that did not
        if mirror.run_id(store, SOURCE, name, key) is not None:
            runs.append(client.call("GET", f"{base}/dagRuns/{_seg(key)}"))
    for data in runs:
        if data.get("state") not in RUN_STATES or "dag_run_id" not in data:
            fetched.notes.append(f"{name}: run state {data.get('state')!r} is unknown; skipped")
            continue
        fetched.runs.append(_run(data, by_run.get(str(data["dag_run_id"]), [])))
    started = client.server_time if client.server_time is not None else now()
    fetched.state = {**state, "since": _iso(started - OVERLAP)}
    return fetched


# -- sync ---------------------------------------------------------------------------------


def last_sync(store: Store) -> SyncStatus:
    """When the Airflow mirror was last refreshed, and why the last attempt failed if it did."""
    return sync_status(store, SOURCE)


def sync(ws: Workspace) -> SyncReport:
    """Mirror every airflow pipeline's DAG runs; never raises for Airflow trouble.

    Reads first (outside any transaction), then applies each pipeline that
    could be read in one write transaction. If any could not, the mirror of
    that one stays as it was and the sync is recorded as failed with why.
    """
    store = ws.store
    started = now()
    history = int(section(ws)["history"])
    fetched: dict[str, _Fetched] = {}
    error: str | None = None
    try:
        with _Client(ws) as client:
            for name, p in sorted(airflow_pipelines(ws).items()):
                try:
                    fetched[name] = _read(ws, client, name, p, history)
                except AirflowError as exc:
                    if exc.status != 404:
                        raise
                    error = error or str(exc)
    except AirflowError as exc:
        record_sync_failure(store, SOURCE, started, str(exc))
        return SyncReport(False, error=str(exc))
    added = changed = 0
    notes: list[str] = []
    with store.write() as conn:
        for name, f in fetched.items():
            applied = mirror.apply(conn, SOURCE, name, f.runs, read_at=started)
            external.put(conn, SOURCE, f"dag:{name}", f.state)
            added += applied.added
            changed += applied.changed
            notes.extend(f.notes)
        if error is None:
            record_sync_success(conn, SOURCE, started)
    if error is not None:
        record_sync_failure(store, SOURCE, started, error)
    versions, more = follow_versions(ws)
    return SyncReport(error is None, added, changed, versions, error, tuple(notes + more))


def follow_versions(ws: Workspace) -> tuple[int, list[str]]:
    """Versions a DAG registered since the last pass: linked to their run, made candidate.

    The promotion request is opened as `pipeline:NAME`, as a local pipeline's
    register stage does (its gates are evaluated the same way).
    """
    from lookout.scheduler import promotion  # promotion reaches the connector table

    store = ws.store
    made = 0
    notes: list[str] = []
    for name, p in sorted(airflow_pipelines(ws).items()):
        known = external.get(store, SOURCE, f"dag:{name}")
        state = dict(known.value) if known is not None else {}
        seen = int(state.get("version", 0))
        model = p["model"]
        fresh = [
            v for v in reversed(registry.list_versions(store, model, limit=50)) if v.version > seen
        ]
        for v in fresh:
            origin = v.lineage.get("airflow") if isinstance(v.lineage, dict) else None
            seen = max(seen, v.version)
            if not isinstance(origin, dict) or origin.get("dag_id") != p["dag_id"]:
                continue
            rid = mirror.run_id(store, SOURCE, name, str(origin.get("run_id")))
            if rid is not None:
                with store.write() as conn:
                    mirror.link_versions(conn, model, {v.version: rid})
            try:
                promotion.on_version_registered(
                    ws, model, v.version, f"pipeline:{name}", bool(p["request_promotion"])
                )
                made += 1
            except Exception as exc:  # the version stands; promotion can be asked by hand
                notes.append(f"{model} v{v.version}: {type(exc).__name__}: {exc}")
        if fresh:
            with store.write() as conn:
                current = external.read(conn, SOURCE, f"dag:{name}")
                value = dict(current.value) if current is not None else {}
                external.put(conn, SOURCE, f"dag:{name}", {**value, "version": seen})
    return made, notes


# -- driving Airflow ------------------------------------------------------------------------


def _pipeline(ws: Workspace, name: str) -> dict[str, Any]:
    p = ws.config.pipelines.get(name)
    if p is None or p["kind"] != SOURCE:
        raise AirflowError(f"{name} is not an airflow pipeline in {ws.config.path}")
    return p


def _dag_run(ws: Workspace, run: Run) -> tuple[dict[str, Any], str]:
    """The pipeline config and Airflow's run id of a mirrored run."""
    where = mirror.key_of(ws.store, run.id)
    if where is None or where.source != SOURCE:
        raise AirflowError(f"run {run.id} is not an Airflow DAG run")
    return _pipeline(ws, run.pipeline), where.key


def _apply_answer(ws: Workspace, name: str, data: Any, trigger: str | None, by: str | None) -> Run:
    """Mirror the DAG run Airflow sent back from an action, at once."""
    if not isinstance(data, dict) or data.get("state") not in RUN_STATES:
        raise AirflowError("Airflow sent an unexpected answer")
    run = replace(_run(data, [], trigger, by), ours=by is not None)
    with ws.store.write() as conn:
        mirror.apply(conn, SOURCE, name, [run])
    rid = mirror.run_id(ws.store, SOURCE, name, run.key)
    got = pipelines.get_run(ws.store, rid) if rid is not None else None
    assert got is not None
    return got


def trigger(
    ws: Workspace,
    name: str,
    requested_by: str,
    trigger: str = "manual",
    conf: dict[str, Any] | None = None,
    drift: dict[str, Any] | None = None,
) -> Run:
    """Start a DAG run: the pipeline's `conf`, then this request's, then what Lookout adds.

    Lookout's part is `conf["lookout"]`: the pipeline, model, trigger and who
    asked, and for a drift trigger the drift summary. The run is mirrored at
    once with Lookout's trigger and the person who asked.
    """
    p = _pipeline(ws, name)
    ours: dict[str, Any] = {
        "pipeline": name,
        "model": p["model"],
        "trigger": trigger,
        "requested_by": requested_by,
    }
    if drift is not None:
        ours["drift"] = drift
    run_key = f"lookout__{_iso(now())}_{uuid.uuid4().hex[:8]}"
    body = {
        "dag_run_id": run_key,
        "logical_date": None,
        "conf": {**p["conf"], **(conf or {}), "lookout": ours},
        "note": f"triggered from Lookout by {requested_by}",
    }
    base = f"/dags/{_seg(p['dag_id'])}/dagRuns"
    with _Client(ws) as client:
        try:
            data = client.call("POST", base, body=body)
        except AirflowError as exc:
            if exc.status != 409:
                raise
            # A retried POST whose first attempt was stored after all: the run id is ours.
            data = client.call("GET", f"{base}/{_seg(run_key)}")
    return _apply_answer(ws, name, data, trigger, requested_by)


def clear_failed(ws: Workspace, run: Run, requested_by: str) -> Run:
    """Clear a DAG run's failed and upstream-failed tasks so Airflow runs them again; of a run
    Lookout cancelled, every task that did not succeed (the cancel failed the running ones
    and skipped the rest, which "failed only" would leave skipped)."""
    p, key = _dag_run(ws, run)
    dag_run = f"/dags/{_seg(p['dag_id'])}/dagRuns/{_seg(key)}"
    note = f"cleared from Lookout by {requested_by}"
    with _Client(ws) as client:
        if run.status == "cancelled":
            client.call(
                "POST",
                f"/dags/{_seg(p['dag_id'])}/clearTaskInstances",
                body={
                    "dry_run": False,
                    "dag_run_id": key,
                    "task_ids": [s.name for s in run.stages if s.status != "succeeded"],
                    "only_failed": False,
                    "reset_dag_runs": True,
                    "note": note,
                },
            )
            data = client.call("GET", dag_run)
        else:
            data = client.call(
                "POST",
                f"{dag_run}/clear",
                body={"dry_run": False, "only_failed": True, "note": note},
            )
    mirror.set_cancel(ws.store, run.id, None)
    return _apply_answer(ws, run.pipeline, data, None, None)


def mark_failed(ws: Workspace, run: Run, requested_by: str) -> Run:
    """Cancel a DAG run the way Airflow does: mark it failed (running tasks stop, the rest skip).
    Airflow's note on the run says Lookout did it for whom; the mirror shows it `cancelled`."""
    p, key = _dag_run(ws, run)
    with _Client(ws) as client:
        data = client.call(
            "PATCH",
            f"/dags/{_seg(p['dag_id'])}/dagRuns/{_seg(key)}",
            body={"state": "failed", "note": f"marked failed from Lookout by {requested_by}"},
        )
    mirror.set_cancel(ws.store, run.id, requested_by)
    return _apply_answer(ws, run.pipeline, data, None, None)


def fetch_log(ws: Workspace, run: Run, stage: str) -> str:
    """The last lines of a stage's log (its latest try), kept on the stage for the console."""
    p, key = _dag_run(ws, run)
    found = next((s for s in run.stages if s.name == stage), None)
    if found is None:
        raise AirflowError(f"run {run.id} has no stage {sanitize(stage, 100, single_line=True)!r}")
    if not found.try_number:
        text = "(this task has not run yet)"
    else:
        task, _, index = stage.partition("[")
        params: dict[str, Any] = {"full_content": "false"}
        if index:
            params["map_index"] = int(index.rstrip("]"))
        with _Client(ws) as client:
            data = client.call(
                "GET",
                f"/dags/{_seg(p['dag_id'])}/dagRuns/{_seg(key)}/taskInstances/{_seg(task)}"
                f"/logs/{found.try_number}",
                params=params,
            )
        text = log_text(data.get("content") if isinstance(data, dict) else None)
    mirror.set_log(ws.store, run.id, stage, text)
    return text


def log_text(content: Any) -> str:
    """Airflow's structured log records as plain lines (time, level, message, exception)."""
    lines: list[str] = []
    where = False  # inside the group naming the log's file on the Airflow host
    for entry in content if isinstance(content, list) else []:
        if isinstance(entry, str):
            lines.append(entry)
            continue
        if not isinstance(entry, dict):
            continue
        event = str(entry.get("event", ""))
        if event.startswith("::group::") or event == "::endgroup::":
            where = event == "::group::Log message source details"
            continue
        if where:
            continue
        stamp = str(entry.get("timestamp") or "")[11:19]
        level = str(entry.get("level") or "")
        lines.append(" ".join(part for part in (stamp, level.upper(), event) if part))
        for exc in entry.get("error_detail") or []:
            if isinstance(exc, dict):
                lines.append(f"  {exc.get('exc_type', 'Error')}: {exc.get('exc_value', '')}")
    return "\n".join(lines[-LOG_LINES:]) or "(the log is empty)"


class AirflowConnector:
    """Airflow's row in the connector table: a `PipelineSource` (see `lookout.scheduler.connectors`)."""

    name = SOURCE
    title = "Airflow"
    settings = staticmethod(SETTINGS)
    pipeline_keys = PIPELINE_KEYS
    check_pipeline = staticmethod(check_pipeline)
    enabled = staticmethod(enabled)
    interval = staticmethod(interval)
    sync = staticmethod(sync)
    health = staticmethod(last_sync)
    trigger = staticmethod(trigger)
    clear_failed = staticmethod(clear_failed)
    mark_failed = staticmethod(mark_failed)
    fetch_log = staticmethod(fetch_log)


AIRFLOW: PipelineSource = AirflowConnector()

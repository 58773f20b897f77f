"""The workspace config, `lookout.toml`: read with tomllib, validated, typed.

Every mistake becomes one `ConfigError` line naming the file, the key path and
what was expected, e.g.::

    lookout.toml: pipelines.wine.retries: expected an integer ≥ 0, got "two"

The spec below is the configuration reference; the README mirrors it. Check
types, drift methods and connectors bring their keys and names from their
own tables (`lookout.scheduler.checks`, `lookout.scheduler.drift_methods`,
`lookout.scheduler.connectors`); the value checkers are
`lookout.scheduler.validate`.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lookout.scheduler import usercode
from lookout.scheduler.checks import CHECK_TYPES
from lookout.scheduler.connectors import (
    CONNECTORS,
    MODEL_SOURCES,
    PIPELINE_SOURCES,
    pipeline_source,
)
from lookout.scheduler.drift_methods import CHOICES as DRIFT_CHOICES
from lookout.scheduler.formats import FORMATS
from lookout.scheduler.validate import (
    Invalid,
    Key,
    boolean,
    call,
    choice,
    duration,
    free_table,
    integer,
    join,
    list_of,
    name,
    named_tables,
    nonempty,
    number,
    path_text,
    schedule,
    shown,
    shown_path,
    size,
    string,
    table,
    url,
    zone,
)
from lookout.storage.records import EVENT_SEVERITIES

DAY = 86400.0

CONFIG_NAME = "lookout.toml"
EVENT_KINDS = (
    "run_failed",
    "check_failed",
    "drift",
    "promotion",
    "rollback",
    "approval_pending",
    "external_change",
    "interrupted",
)


class ConfigError(Exception):
    """One line: file, key path, what was expected."""


# -- checks -----------------------------------------------------------------------

_CHECK_COMMON = {
    "name": Key(name, required=True),
    "type": Key(string, required=True),
    "severity": Key(choice("warn", "fail"), default="fail"),
    "description": Key(string, default=""),
}


def check_definition(path: str, v: Any) -> dict[str, Any]:
    """One `[[datasets.X.checks]]` entry: the common keys, then its type's keys and rules."""
    if not isinstance(v, dict):
        raise Invalid(path, f"expected a table, got {shown(v)}")
    label = f"{path}({v['name']})" if isinstance(v.get("name"), str) else path
    kind = v.get("type")
    if kind not in CHECK_TYPES:
        listed = ", ".join(CHECK_TYPES)
        if kind is None:
            raise Invalid(join(label, "type"), f"missing required key (one of {listed})")
        raise Invalid(join(label, "type"), f"expected one of {listed}, got {shown(kind)}")
    check_type = CHECK_TYPES[kind]
    out = table({**_CHECK_COMMON, **check_type.keys})(label, v)
    check_type.rules(label, out)
    return out


def checks_list(path: str, v: Any) -> list[dict[str, Any]]:
    items = list_of(check_definition)(path, v)
    seen: set[str] = set()
    for i, item in enumerate(items):
        if item["name"] in seen:
            raise Invalid(f"{path}[{i}]", f'duplicate check name "{item["name"]}"')
        seen.add(item["name"])
    return items


# -- notifications ----------------------------------------------------------------

_TARGET_COMMON = {
    "url": Key(url),
    "format": Key(string, default="json"),
    "secret_env": Key(nonempty),
    "events": Key(list_of(choice(*EVENT_KINDS)), default=list),
    "min_severity": Key(choice(*EVENT_SEVERITIES), default="info"),
    "group_wait": Key(duration, default=10.0),
    "dedup": Key(duration, default=600.0),
    "timeout": Key(duration, default=5.0),
    "retries": Key(integer(0, 10), default=3),
}


def notification_target(path: str, v: Any) -> dict[str, Any]:
    """One `[notifications.NAME]`: the common keys, then its format's own keys."""
    if not isinstance(v, dict):
        raise Invalid(path, f"expected a table, got {shown(v)}")
    kind = v.get("format", "json")
    if kind not in FORMATS:
        listed = ", ".join(f'"{f}"' for f in FORMATS)
        raise Invalid(join(path, "format"), f"expected one of {listed}, got {shown(kind)}")
    fmt = FORMATS[kind]
    out = table({**_TARGET_COMMON, **fmt.keys})(path, v)
    if out["url"] is None:
        if fmt.default_url is None:
            raise Invalid(join(path, "url"), "missing required key")
        out["url"] = fmt.default_url
    return out


def listen_address(path: str, v: Any) -> str:
    """`HOST:PORT` to serve on, e.g. "127.0.0.1:9464" (brackets around an IPv6 host; port 0
    takes any free port)."""
    s = string(path, v)
    host, _, port = s.rpartition(":")
    # ASCII digits only, at most five: int() refuses "²" and strings of 4300 digits
    if not host or not (port.isascii() and port.isdigit()) or len(port) > 5 or int(port) > 65535:
        raise Invalid(path, f'expected HOST:PORT like "127.0.0.1:9464", got {shown(s)}')
    return s


# -- the whole file ---------------------------------------------------------------

DRIFT_FEATURE = table(
    {
        "method": Key(choice(*DRIFT_CHOICES), default="auto"),
        "warn": Key(number(0)),
        "drift": Key(number(0)),
    }
)

# Keys that pipelines run by a connector (`kind = "airflow"`) add, with the kind that owns each.
_PIPELINE_SOURCE_KEYS = {
    key: spec
    for kind in PIPELINE_SOURCES
    for key, spec in CONNECTORS[kind].pipeline_keys.items()  # type: ignore[attr-defined]
}
_KEY_OWNER = {
    key: kind
    for kind in PIPELINE_SOURCES
    for key in CONNECTORS[kind].pipeline_keys  # type: ignore[attr-defined]
}

SPEC = table(
    {
        "workspace": Key(
            table(
                {
                    "name": Key(nonempty, default="lookout"),
                    "database": Key(path_text, default="lookout.db"),
                    "artifacts": Key(path_text, default="artifacts"),
                    "group": Key(nonempty),
                    "mode": Key(choice("personal", "shared"), default="personal"),
                    "service_user": Key(nonempty),
                    "refresh": Key(duration, default=2.0),
                }
            ),
            default=dict,
        ),
        "code": Key(table({"path": Key(path_text, default="code")}), default=dict),
        "scheduler": Key(
            table(
                {
                    "heartbeat": Key(duration, default=5.0),
                    "lease": Key(duration, default=30.0),
                    "misfire_grace": Key(duration, default=300.0),
                    "poll": Key(duration, default=0.5),
                    "min_free": Key(size, default=200 * 10**6),
                    "timezone": Key(zone, default="UTC"),
                }
            ),
            default=dict,
        ),
        "policy": Key(
            table(
                {
                    "four_eyes": Key(boolean, default=True),
                    "approvals_required": Key(integer(1, 10), default=1),
                    "rollback_requires_approval": Key(boolean, default=False),
                    "metric_tolerance": Key(number(0), default=0.0),
                    "roles": Key(
                        table(
                            {
                                "reporter": Key(list_of(nonempty), default=list),
                                "operator": Key(list_of(nonempty), default=list),
                                "approver": Key(list_of(nonempty), default=list),
                                "admin": Key(list_of(nonempty), default=list),
                            }
                        ),
                        default=dict,
                    ),
                    "gates": Key(
                        table(
                            {
                                "checks": Key(boolean, default=True),
                                "metric": Key(boolean, default=True),
                                "drift": Key(boolean, default=True),
                            }
                        ),
                        default=dict,
                    ),
                }
            ),
            default=dict,
        ),
        "datasets": Key(
            named_tables(
                table(
                    {
                        "source": Key(nonempty, required=True),
                        "format": Key(choice("auto", "csv", "parquet", "arrow"), default="auto"),
                        "timestamp_column": Key(nonempty),
                        "check_schedule": Key(schedule),
                        "checks": Key(checks_list, default=list),
                    }
                )
            ),
            default=dict,
        ),
        "models": Key(
            named_tables(
                table(
                    {
                        "task": Key(choice("classification", "regression"), required=True),
                        "target": Key(nonempty),
                        "primary_metric": Key(nonempty),
                        "features": Key(list_of(nonempty), default=list),
                        "categorical": Key(list_of(nonempty), default=list),
                        "source": Key(choice("local", *MODEL_SOURCES), default="local"),
                        "reload_hook": Key(url),
                        "hook_timeout": Key(duration, default=5.0),
                        "hook_retries": Key(integer(0, 10), default=2),
                        "hook_secret_env": Key(nonempty),
                        "drift": Key(
                            table(
                                {
                                    "schedule": Key(schedule, default="1m"),
                                    "window_rows": Key(integer(1), default=5000),
                                    "window": Key(duration),
                                    "exact_rows": Key(integer(0), default=100_000),
                                    "method": Key(choice(*DRIFT_CHOICES), default="auto"),
                                    "share_threshold": Key(number(0, 1), default=0.5),
                                    "features": Key(named_tables(DRIFT_FEATURE), default=dict),
                                }
                            ),
                            default=dict,
                        ),
                    }
                )
            ),
            default=dict,
        ),
        "pipelines": Key(
            named_tables(
                table(
                    {
                        "kind": Key(
                            choice("tabular", "custom", *PIPELINE_SOURCES), default="tabular"
                        ),
                        "dataset": Key(name),
                        "model": Key(name),
                        "schedule": Key(schedule),
                        "estimator": Key(nonempty),
                        "params": Key(free_table, default=dict),
                        "test_size": Key(number(0.05, 0.95), default=0.25),
                        "seed": Key(integer(0), default=0),
                        "retries": Key(integer(0, 20), default=0),
                        "retry_backoff": Key(duration, default=30.0),
                        "stage_timeout": Key(duration, default=600.0),
                        "request_promotion": Key(boolean, default=True),
                        "triggers": Key(
                            table(
                                {
                                    "files": Key(nonempty),
                                    "drift": Key(boolean, default=False),
                                    "manual": Key(boolean, default=True),
                                }
                            ),
                            default=dict,
                        ),
                        "stages": Key(
                            list_of(
                                table(
                                    {
                                        "name": Key(name, required=True),
                                        "call": Key(call, required=True),
                                        "timeout": Key(duration),
                                    }
                                )
                            ),
                            default=list,
                        ),
                        **_PIPELINE_SOURCE_KEYS,
                    }
                )
            ),
            default=dict,
        ),
        **{c.name: Key(c.settings, default=dict) for c in CONNECTORS.values()},
        "audit": Key(
            table(
                {
                    "key": Key(path_text, default="keys/audit.key"),
                    "public_key": Key(path_text, default="audit.pub"),
                    "witness": Key(path_text),
                }
            ),
            default=dict,
        ),
        # How long the store keeps each kind of row (lookout.storage.retention); the audit
        # is kept forever, and so are the latest result of each check and what a pending
        # promotion request refers to.
        "retention": Key(
            table(
                {
                    "raw_rows": Key(duration, default=7 * DAY),
                    "profiles": Key(duration, default=400 * DAY),
                    "check_results": Key(duration, default=90 * DAY),
                    "drift_results": Key(duration, default=400 * DAY),
                    "events": Key(duration, default=400 * DAY),
                    "interval": Key(duration, default=600.0),
                }
            ),
            default=dict,
        ),
        "notifications": Key(named_tables(notification_target), default=dict),
        "metrics": Key(
            table(
                {
                    "listen": Key(listen_address),
                    "max_features": Key(integer(1, 1000), default=25),
                }
            ),
            default=dict,
        ),
    }
)


# -- typed result -----------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """A validated `lookout.toml`. Sections are plain dicts with every default filled in."""

    path: Path
    root: Path
    workspace: dict[str, Any]
    scheduler: dict[str, Any]
    policy: dict[str, Any]
    datasets: dict[str, dict[str, Any]]
    models: dict[str, dict[str, Any]]
    pipelines: dict[str, dict[str, Any]]
    code: dict[str, Any] = field(default_factory=dict)
    sha256: str = ""  # of the file's text, recorded in the audit when it changes
    notifications: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    retention: dict[str, Any] = field(default_factory=dict)
    connectors: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> its section
    audit: dict[str, Any] = field(default_factory=dict)

    @property
    def database(self) -> Path:
        return self.resolve(self.workspace["database"])

    @property
    def artifacts(self) -> Path:
        return self.resolve(self.workspace["artifacts"])

    @property
    def code_path(self) -> Path:
        """Where custom stages, dataset callables, custom checks and estimators load from."""
        return self.resolve(self.code["path"])

    @property
    def shared(self) -> bool:
        """Shared mode: a daemon running as the service account alone writes the workspace."""
        return self.workspace["mode"] == "shared"

    def resolve(self, relative: str) -> Path:
        """A path from the config, relative to the workspace directory."""
        p = Path(os.path.expanduser(relative))
        return p if p.is_absolute() else self.root / p


def default_metric(task: str) -> str:
    """The primary metric a model gets when its config names none."""
    return "rmse" if task == "regression" else "f1"


def _cross_check(data: dict[str, Any]) -> None:
    ws = data["workspace"]
    if ws["mode"] == "shared":
        for key in ("service_user", "group"):
            if ws[key] is None:
                raise Invalid(f"workspace.{key}", 'missing required key (mode = "shared")')
    for pname, p in data["pipelines"].items():
        path = f"pipelines.{pname}"
        for key, kind in _KEY_OWNER.items():
            if p["kind"] != kind and p[key] not in (None, {}):
                raise Invalid(join(path, key), f"only for {kind} pipelines")
        source = pipeline_source(p["kind"])
        if source is not None:
            source.check_pipeline(path, p, data[p["kind"]])
        elif p["kind"] == "tabular":
            for key in ("dataset", "model", "estimator"):
                if p[key] is None:
                    raise Invalid(join(path, key), "missing required key (tabular pipeline)")
        elif not p["stages"]:
            raise Invalid(join(path, "stages"), "a custom pipeline needs at least one stage")
        if p["dataset"] is not None and p["dataset"] not in data["datasets"]:
            raise Invalid(join(path, "dataset"), f'no dataset named "{p["dataset"]}"')
        if p["model"] is not None and p["model"] not in data["models"]:
            raise Invalid(join(path, "model"), f'no model named "{p["model"]}"')
        seen = set()
        for i, stage in enumerate(p["stages"]):
            if stage["name"] in seen:
                raise Invalid(f"{path}.stages[{i}].name", f'duplicate stage "{stage["name"]}"')
            seen.add(stage["name"])
    for mname, m in data["models"].items():
        if m["source"] == "local" and m["target"] is None:
            raise Invalid(f"models.{mname}.target", "missing required key (local model)")
        if m["primary_metric"] is None:
            m["primary_metric"] = default_metric(m["task"])


def _estimator_problem(cfg: Config, path: str) -> str | None:
    """Why an estimator's import path cannot load, told without importing it: the config is
    read by every command and the console, which must not pay for scikit-learn, and the
    workspace's code runs only in the runner (`lookout.scheduler.usercode.missing`)."""
    parts = usercode.split(path)
    if parts is None:
        return f'expected an import path like "sklearn.svm.SVC", got {shown(path)}'
    return usercode.missing(cfg.code_path, *parts)


def parse(text: str, path: Path) -> Config:
    """Validate the text of a config file; raise ConfigError with one line."""
    label = str(path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses once per level of nested arrays and tables
        raise ConfigError(f"{label}: not valid TOML: arrays or tables nested too deeply") from None
    try:
        data = SPEC("", raw)
        _cross_check(data)
    except Invalid as exc:
        raise ConfigError(f"{label}: {shown_path(exc.path)}: {exc.message}") from None
    sections = {name: data.pop(name) for name in CONNECTORS}
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    cfg = Config(path=path, root=path.parent, connectors=sections, sha256=digest, **data)
    for pname, p in cfg.pipelines.items():
        problem = p["estimator"] and _estimator_problem(cfg, p["estimator"])
        if problem:
            raise ConfigError(f"{label}: pipelines.{pname}.estimator: {problem}")
    witness = cfg.audit.get("witness")
    if witness and cfg.resolve(witness).resolve().is_relative_to(cfg.root.resolve()):
        # Whoever can write the workspace could cut a witness kept inside it.
        raise ConfigError(
            f"{label}: audit.witness: expected a path outside the workspace, got {shown(witness)}"
        )
    return cfg


def load(workspace: Path) -> Config:
    """Read `lookout.toml` from a workspace directory."""
    path = workspace / CONFIG_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no {CONFIG_NAME} here (run `lookout init` first)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return parse(text, path)

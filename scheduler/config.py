"""The workspace config, `lookout.toml`: read with tomllib, validated, typed.

Every mistake becomes one `ConfigError` line naming the file, the key path and
what was expected, e.g.::

    lookout.toml: pipelines.wine.retries: expected an integer ≥ 0, got "two"

The spec below is the configuration reference; the README mirrors it.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG_NAME = "lookout.toml"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
CALL_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
CRON_FIELD_RE = re.compile(r"^[\w*/,\-?]+$")
DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
COLUMN_KINDS = ("number", "integer", "string", "datetime", "bool")
DRIFT_METHODS = ("auto", "psi", "ks", "wasserstein", "jensenshannon", "chisquare")
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


class _Invalid(Exception):
    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path
        self.message = message


# -- value checkers ---------------------------------------------------------------

Checker = Callable[[str, Any], Any]


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return str(value)


def string(path: str, v: Any) -> str:
    if not isinstance(v, str):
        raise _Invalid(path, f"expected a string, got {_show(v)}")
    return v


def nonempty(path: str, v: Any) -> str:
    s = string(path, v)
    if not s.strip():
        raise _Invalid(path, "expected a non-empty string")
    return s


def boolean(path: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise _Invalid(path, f"expected true or false, got {_show(v)}")
    return v


def integer(minimum: int | None = None, maximum: int | None = None) -> Checker:
    def check(path: str, v: Any) -> int:
        bounds = ""
        if minimum is not None:
            bounds = f" ≥ {minimum}"
        if maximum is not None:
            bounds += f" and ≤ {maximum}" if bounds else f" ≤ {maximum}"
        if isinstance(v, bool) or not isinstance(v, int):
            raise _Invalid(path, f"expected an integer{bounds}, got {_show(v)}")
        if (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
            raise _Invalid(path, f"expected an integer{bounds}, got {v}")
        return v

    return check


def number(minimum: float | None = None, maximum: float | None = None) -> Checker:
    def check(path: str, v: Any) -> float:
        bounds = ""
        if minimum is not None:
            bounds = f" ≥ {minimum:g}"
        if maximum is not None:
            bounds += f" and ≤ {maximum:g}" if bounds else f" ≤ {maximum:g}"
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise _Invalid(path, f"expected a number{bounds}, got {_show(v)}")
        if isinstance(v, float) and not math.isfinite(v):
            raise _Invalid(path, f"expected a finite number{bounds}, got {v}")
        if (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
            raise _Invalid(path, f"expected a number{bounds}, got {v:g}")
        return float(v)

    return check


def choice(*options: str) -> Checker:
    def check(path: str, v: Any) -> str:
        if v not in options:
            listed = ", ".join(f'"{o}"' for o in options)
            raise _Invalid(path, f"expected one of {listed}, got {_show(v)}")
        return str(v)

    return check


def duration(path: str, v: Any) -> float:
    """'30s', '10m', '2h', '1d', '500ms' or a number of seconds; > 0."""
    if isinstance(v, int | float) and not isinstance(v, bool):
        if v > 0 and math.isfinite(v):
            return float(v)
    elif isinstance(v, str):
        m = DURATION_RE.match(v)
        if m and float(m.group(1)) > 0:
            return float(m.group(1)) * DURATION_UNITS[m.group(2)]
    raise _Invalid(path, f'expected a duration like "30s", "10m" or "2h", got {_show(v)}')


def schedule(path: str, v: Any) -> str:
    """A duration ('10m': every ten minutes) or a five-field cron expression."""
    s = string(path, v).strip()
    if DURATION_RE.match(s):
        return s
    fields = s.split()
    if len(fields) == 5 and all(CRON_FIELD_RE.match(f) for f in fields):
        return s
    raise _Invalid(
        path, f'expected an interval like "10m" or a cron expression like "*/15 * * * *", got "{s}"'
    )


def name(path: str, v: Any) -> str:
    s = string(path, v)
    if not NAME_RE.match(s):
        raise _Invalid(path, f'expected a name of letters, digits, "_", "-" or ".", got "{s}"')
    return s


def call(path: str, v: Any) -> str:
    s = string(path, v)
    if not CALL_RE.match(s):
        raise _Invalid(path, f'expected "module:function", got "{s}"')
    return s


def url(path: str, v: Any) -> str:
    s = string(path, v)
    if not re.match(r"^https?://[^\s/]+", s):
        raise _Invalid(path, f'expected an http:// or https:// URL, got "{s}"')
    return s


def list_of(item: Checker) -> Checker:
    def check(path: str, v: Any) -> list[Any]:
        if not isinstance(v, list):
            raise _Invalid(path, f"expected an array, got {_show(v)}")
        return [item(f"{path}[{i}]", x) for i, x in enumerate(v)]

    return check


def scalar(path: str, v: Any) -> Any:
    if isinstance(v, dict | list):
        raise _Invalid(path, f"expected a string, number or boolean, got {_show(v)}")
    return v


def free_table(path: str, v: Any) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise _Invalid(path, f"expected a table, got {_show(v)}")
    return dict(v)


# -- tables -----------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    check: Checker
    required: bool = False
    default: Any = None


def table(spec: dict[str, Key]) -> Checker:
    """A table with known keys; unknown keys are mistakes (usually typos)."""

    def check(path: str, v: Any) -> dict[str, Any]:
        if not isinstance(v, dict):
            raise _Invalid(path, f"expected a table, got {_show(v)}")
        for key in v:
            if key not in spec:
                known = ", ".join(sorted(spec))
                raise _Invalid(_join(path, key), f"unknown key (known keys: {known})")
        out: dict[str, Any] = {}
        for key, k in spec.items():
            if key in v:
                out[key] = k.check(_join(path, key), v[key])
            elif k.required:
                raise _Invalid(_join(path, key), "missing required key")
            elif k.default is dict:
                out[key] = k.check(_join(path, key), {})  # a section's own defaults
            else:
                out[key] = k.default() if callable(k.default) else k.default
        return out

    return check


def named_tables(item: Checker) -> Checker:
    """A table whose keys are user-chosen names, each holding a table."""

    def check(path: str, v: Any) -> dict[str, Any]:
        if not isinstance(v, dict):
            raise _Invalid(path, f"expected a table, got {_show(v)}")
        out = {}
        for key, value in v.items():
            name(_join(path, key), key)
            out[key] = item(_join(path, key), value)
        return out

    return check


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# -- checks -----------------------------------------------------------------------

_CHECK_COMMON = {
    "name": Key(name, required=True),
    "type": Key(string, required=True),
    "severity": Key(choice("warn", "fail"), default="fail"),
    "description": Key(string, default=""),
}
_COLUMNS = {"column": Key(nonempty), "columns": Key(list_of(nonempty))}
CHECK_TYPES: dict[str, dict[str, Key]] = {
    "schema": {
        "columns": Key(free_table, required=True),
        "strict": Key(boolean, default=False),
    },
    "not_null": {**_COLUMNS, "max_null_share": Key(number(0, 1), default=0.0)},
    "range": {
        "column": Key(nonempty, required=True),
        "min": Key(number()),
        "max": Key(number()),
        "inclusive": Key(boolean, default=True),
    },
    "allowed_values": {
        "column": Key(nonempty, required=True),
        "values": Key(list_of(scalar), required=True),
    },
    "unique": dict(_COLUMNS),
    "row_count": {"min": Key(integer(0)), "max": Key(integer(0))},
    "freshness": {"column": Key(nonempty), "max_age": Key(duration, required=True)},
    "mean": {
        "column": Key(nonempty, required=True),
        "min": Key(number()),
        "max": Key(number()),
        "sigmas": Key(number(0)),
    },
    "std": {
        "column": Key(nonempty, required=True),
        "min": Key(number()),
        "max": Key(number()),
        "sigmas": Key(number(0)),
    },
    "drift": {
        "columns": Key(list_of(nonempty)),
        "method": Key(choice(*DRIFT_METHODS), default="auto"),
        "max_share": Key(number(0, 1), default=0.5),
    },
    "custom": {"call": Key(call, required=True), "args": Key(free_table, default=dict)},
}


def check_definition(path: str, v: Any) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise _Invalid(path, f"expected a table, got {_show(v)}")
    label = f"{path}({v['name']})" if isinstance(v.get("name"), str) else path
    kind = v.get("type")
    if kind not in CHECK_TYPES:
        listed = ", ".join(CHECK_TYPES)
        if kind is None:
            raise _Invalid(_join(label, "type"), f"missing required key (one of {listed})")
        raise _Invalid(_join(label, "type"), f"expected one of {listed}, got {_show(kind)}")
    out = table({**_CHECK_COMMON, **CHECK_TYPES[kind]})(label, v)
    if kind in ("not_null", "unique") and not (out["column"] or out["columns"]):
        raise _Invalid(label, f'a {kind} check needs "column" or "columns"')
    if kind in ("not_null", "unique") and out["column"] and out["columns"]:
        raise _Invalid(label, f'a {kind} check takes "column" or "columns", not both')
    empty = {"schema": "columns", "allowed_values": "values", "drift": "columns"}
    if kind in empty and out[empty[kind]] is not None and len(out[empty[kind]]) == 0:
        raise _Invalid(_join(label, empty[kind]), "expected at least one entry")
    if kind in ("range", "row_count") and out["min"] is None and out["max"] is None:
        raise _Invalid(label, f'a {kind} check needs "min", "max" or both')
    if kind in ("range", "row_count", "mean", "std"):
        lo, hi = out.get("min"), out.get("max")
        if lo is not None and hi is not None and lo > hi:
            raise _Invalid(label, f"min ({lo:g}) is greater than max ({hi:g})")
        if kind == "range" and not out["inclusive"] and lo is not None and lo == hi:
            raise _Invalid(
                label, f"min and max are both {lo:g} and inclusive = false: no value fits"
            )
    no_bounds = out.get("min") is None and out.get("max") is None
    if kind in ("mean", "std") and no_bounds and out["sigmas"] is None:
        raise _Invalid(label, f'a {kind} check needs "min"/"max" or "sigmas"')
    if kind == "schema":
        for col, col_kind in out["columns"].items():
            choice(*COLUMN_KINDS)(_join(_join(label, "columns"), col), col_kind)
    return out


def checks_list(path: str, v: Any) -> list[dict[str, Any]]:
    items = list_of(check_definition)(path, v)
    seen: set[str] = set()
    for i, item in enumerate(items):
        if item["name"] in seen:
            raise _Invalid(f"{path}[{i}]", f'duplicate check name "{item["name"]}"')
        seen.add(item["name"])
    return items


# -- the whole file ---------------------------------------------------------------

DRIFT_FEATURE = table(
    {
        "method": Key(choice(*DRIFT_METHODS), default="auto"),
        "warn": Key(number(0)),
        "drift": Key(number(0)),
    }
)

SPEC = table(
    {
        "workspace": Key(
            table(
                {
                    "name": Key(nonempty, default="lookout"),
                    "database": Key(nonempty, default="lookout.db"),
                    "artifacts": Key(nonempty, default="artifacts"),
                    "group": Key(nonempty),
                    "refresh": Key(duration, default=2.0),
                }
            ),
            default=dict,
        ),
        "scheduler": Key(
            table(
                {
                    "heartbeat": Key(duration, default=5.0),
                    "lease": Key(duration, default=30.0),
                    "misfire_grace": Key(duration, default=300.0),
                    "poll": Key(duration, default=0.5),
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
                        "format": Key(choice("auto", "csv", "parquet"), default="auto"),
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
                        "source": Key(choice("local", "mlflow"), default="local"),
                        "reload_hook": Key(url),
                        "hook_timeout": Key(duration, default=5.0),
                        "hook_retries": Key(integer(0, 10), default=2),
                        "drift": Key(
                            table(
                                {
                                    "schedule": Key(schedule, default="1m"),
                                    "window_rows": Key(integer(1), default=5000),
                                    "window": Key(duration),
                                    "method": Key(choice(*DRIFT_METHODS), default="auto"),
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
                        "kind": Key(choice("tabular", "custom"), default="tabular"),
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
                    }
                )
            ),
            default=dict,
        ),
        "mlflow": Key(
            table(
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
            ),
            default=dict,
        ),
        "notifications": Key(
            named_tables(
                table(
                    {
                        "url": Key(url, required=True),
                        "format": Key(choice("json", "slack"), default="json"),
                        "secret_env": Key(nonempty),
                        "events": Key(list_of(choice(*EVENT_KINDS)), default=list),
                        "dedup": Key(duration, default=600.0),
                        "timeout": Key(duration, default=5.0),
                        "retries": Key(integer(0, 10), default=3),
                    }
                )
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
    mlflow: dict[str, Any]
    notifications: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def database(self) -> Path:
        return self.resolve(self.workspace["database"])

    @property
    def artifacts(self) -> Path:
        return self.resolve(self.workspace["artifacts"])

    def resolve(self, relative: str) -> Path:
        """A path from the config, relative to the workspace directory."""
        p = Path(os.path.expanduser(relative))
        return p if p.is_absolute() else self.root / p


def default_metric(task: str) -> str:
    """The primary metric a model gets when its config names none."""
    return "rmse" if task == "regression" else "f1"


def _cross_check(data: dict[str, Any]) -> None:
    for pname, p in data["pipelines"].items():
        path = f"pipelines.{pname}"
        if p["kind"] == "tabular":
            for key in ("dataset", "model", "estimator"):
                if p[key] is None:
                    raise _Invalid(_join(path, key), "missing required key (tabular pipeline)")
        elif not p["stages"]:
            raise _Invalid(_join(path, "stages"), "a custom pipeline needs at least one stage")
        if p["dataset"] is not None and p["dataset"] not in data["datasets"]:
            raise _Invalid(_join(path, "dataset"), f'no dataset named "{p["dataset"]}"')
        if p["model"] is not None and p["model"] not in data["models"]:
            raise _Invalid(_join(path, "model"), f'no model named "{p["model"]}"')
        seen = set()
        for i, stage in enumerate(p["stages"]):
            if stage["name"] in seen:
                raise _Invalid(f"{path}.stages[{i}].name", f'duplicate stage "{stage["name"]}"')
            seen.add(stage["name"])
    for mname, m in data["models"].items():
        if m["source"] == "local" and m["target"] is None:
            raise _Invalid(f"models.{mname}.target", "missing required key (local model)")
        if m["primary_metric"] is None:
            m["primary_metric"] = default_metric(m["task"])


def parse(text: str, path: Path) -> Config:
    """Validate the text of a config file; raise ConfigError with one line."""
    label = str(path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label}: not valid TOML: {exc}") from None
    try:
        data = SPEC("", raw)
        _cross_check(data)
    except _Invalid as exc:
        raise ConfigError(f"{label}: {exc.path}: {exc.message}") from None
    return Config(path=path, root=path.parent, **data)


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

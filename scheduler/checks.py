"""Data-check engine: evaluate a dataset's configured checks on a Frame, vectorised.

Each check type is one function `(frame, check, context) -> Outcome` working on
whole NumPy columns (a 1M-row column costs a few passes, never a Python loop
over rows). Anything that stops a check from being evaluated (missing column,
wrong kind, no rows, no reference) raises `Unevaluable`, which becomes an
`error` result: never a pass, never a crash. Storing the results and paging
on-call is `lookout.storage.checks.record_results`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from lookout.scheduler import drift
from lookout.scheduler.frame import DataError, Frame
from lookout.scheduler.loading import load_dataset, resolve_callable
from lookout.scheduler.workspace import Workspace
from lookout.storage import checks as stored_checks
from lookout.storage import registry
from lookout.storage.db import now
from lookout.storage.records import CheckResult, iso

MAX_EXAMPLES = stored_checks.MAX_EXAMPLES
NUMERIC_KINDS = ("number", "integer", "datetime", "bool")
# Allowed-value lists up to this size are matched with one `==` pass per value
# (faster than np.isin's sort for the few categories typical of such checks).
SMALL_ALLOWED = 16


class Unevaluable(Exception):
    """The check could not be evaluated; the message says why, in one line."""


@dataclass(frozen=True)
class Outcome:
    """What a check found, before severity turns a failure into `warn` or `fail`."""

    passed: bool
    observed: str | None
    threshold: str | None
    rows: int
    failing_rows: int = 0
    examples: tuple[str, ...] = ()
    message: str = ""


@dataclass
class Reference:
    """The production version's profile of the model trained on this dataset."""

    model: str
    version: int
    profile: dict[str, Any]


@dataclass
class Context:
    """What checks need beyond the frame: the workspace, the clock, the file time."""

    ws: Workspace
    dataset: str
    at: float
    modified_at: float | None
    _reference: Reference | str | None = field(default=None, repr=False)  # str: why there is none

    def reference(self) -> Reference:
        """Looked up once per pass; raises Unevaluable when there is none yet."""
        if self._reference is None:
            try:
                self._reference = find_reference(self.ws, self.dataset)
            except Unevaluable as exc:
                self._reference = str(exc)
        if isinstance(self._reference, str):
            raise Unevaluable(self._reference)
        return self._reference


def find_reference(ws: Workspace, dataset: str) -> Reference:
    """The profile stored with the production version of a model whose pipeline uses `dataset`."""
    models = [
        p["model"]
        for p in ws.config.pipelines.values()
        if p.get("dataset") == dataset and p.get("model")
    ]
    if not models:
        raise Unevaluable(f'no pipeline trains a model on "{dataset}", so there is no reference')
    for model in models:
        version = registry.aliases(ws.store, model).get("production")
        if version is None:
            continue
        profile = registry.get_profile(ws.store, model, version)
        if profile is None:
            raise Unevaluable(f"{model} v{version} (production) has no stored reference profile")
        return Reference(model, version, profile)
    raise Unevaluable(f"no reference yet: no production version of {', '.join(models)}")


# -- small helpers ------------------------------------------------------------------


def fmt(x: float) -> str:
    """A number for people: integers in full, others to 6 significant digits."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))  # ids and counts in full, never 1.23457e+06
    return f"{x:.6g}"


def age(seconds: float) -> str:
    """A duration for people: 45s, 12m, 3.5h, 2.1d."""
    s = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            text = f"{s / size:.3g}{unit}"
            break
    else:
        text = f"{s:.3g}s"
    return text if seconds >= 0 else f"{text} in the future"


def plural(n: int, word: str) -> str:
    return word if n == 1 else f"{word}s"


def column(frame: Frame, name: str) -> tuple[np.ndarray, str]:
    if name not in frame.columns:
        shown = ", ".join(frame.names[:10]) + (", …" if len(frame.names) > 10 else "")
        raise Unevaluable(f'column "{name}" not found (columns: {shown or "none"})')
    return frame.columns[name], frame.kinds[name]


def numeric(frame: Frame, name: str, needs: str) -> np.ndarray:
    values, kind = column(frame, name)
    if kind not in NUMERIC_KINDS:
        raise Unevaluable(f'column "{name}" holds {kind} values; {needs} needs numbers')
    return values


def missing(values: np.ndarray, kind: str) -> np.ndarray | None:
    """The missing-value mask ("" for strings, NaN otherwise), or None when nothing is missing.

    For numbers the sum decides first (any NaN makes it NaN): one cheap pass
    for the common, clean column.
    """
    if kind != "string":
        with np.errstate(invalid="ignore"):  # inf + -inf is NaN too; the mask settles it
            if not math.isnan(float(np.sum(values))):
                return None
    mask = empty_strings(values) if kind == "string" else np.isnan(values)
    return mask if mask.any() else None


def empty_strings(values: np.ndarray) -> np.ndarray:
    """`values == ""`, read from each string's first code unit (a third of the time).

    NumPy strips trailing NULs from fixed-width strings, so a first unit of 0
    means empty, or a string starting with NUL; those few rows are compared in full.
    """
    width = values.dtype.itemsize // 4
    if values.dtype.kind != "U" or width == 0 or not values.flags.c_contiguous:
        return np.asarray(values == "")
    mask = values.view(np.uint32)[::width] == 0
    suspects = np.flatnonzero(mask)
    if suspects.size:
        mask[suspects] = values[suspects] == ""
    return mask


def need_rows(frame: Frame) -> int:
    if frame.rows == 0:
        raise Unevaluable("no rows to examine")
    return frame.rows


def show(value: Any, kind: str = "") -> str:
    if isinstance(value, float | np.floating):
        if kind == "datetime" and math.isfinite(value):
            return str(iso(float(value)))
        return fmt(float(value))
    return str(value)


def examples(values: np.ndarray, kind: str = "") -> tuple[str, ...]:
    """Up to MAX_EXAMPLES distinct values, in the order they appear (from the first 1000)."""
    out: dict[str, None] = {}
    for v in values[:1000].tolist():
        out.setdefault(show(v, kind), None)
        if len(out) >= MAX_EXAMPLES:
            break
    return tuple(out)


def failing_values(values: np.ndarray, bad: np.ndarray, kind: str = "") -> tuple[str, ...]:
    """Examples taken from the failing mask only (the first rows that fail)."""
    return examples(values[np.flatnonzero(bad)[:1000]], kind)


def row_numbers(bad: np.ndarray) -> tuple[str, ...]:
    """For conditions with no telling value (nulls): the first failing rows, 1-based."""
    return tuple(f"row {i + 1}" for i in np.flatnonzero(bad)[:MAX_EXAMPLES].tolist())


def bounds_text(lo: float | None, hi: float | None, inclusive: bool = True) -> str:
    if lo is not None and hi is not None:
        return f"[{fmt(lo)}, {fmt(hi)}]" if inclusive else f"({fmt(lo)}, {fmt(hi)})"
    if lo is not None:
        return f"{'≥' if inclusive else '>'} {fmt(lo)}"
    return f"{'≤' if inclusive else '<'} {fmt(hi if hi is not None else math.inf)}"


def within(x: float, lo: float | None, hi: float | None) -> bool:
    return (lo is None or x >= lo) and (hi is None or x <= hi)


# -- the check types ----------------------------------------------------------------


def _kind_fits(have: str, want: str) -> bool:
    return have == want or (want == "number" and have == "integer")


def check_schema(frame: Frame, c: dict[str, Any], ctx: Context) -> Outcome:
    """Required columns with their kinds; `strict` also refuses columns not listed."""
    wanted: dict[str, str] = c["columns"]
    problems = []
    for name, want in wanted.items():
        have = frame.kinds.get(name)
        if have is None:
            problems.append(f"{name}: missing")
        elif not _kind_fits(have, want):
            problems.append(f"{name}: {have}, expected {want}")
    if c["strict"]:
        problems += [f"{n}: unexpected" for n in frame.names if n not in wanted]
    threshold = ", ".join(f"{n}: {k}" for n, k in wanted.items())
    return Outcome(
        passed=not problems,
        observed="; ".join(problems) if problems else f"{len(frame.names)} columns as expected",
        threshold=threshold + (" (strict)" if c["strict"] else ""),
        rows=frame.rows,
        examples=tuple(problems[:MAX_EXAMPLES]),
    )


def check_not_null(frame: Frame, c: dict[str, Any], ctx: Context) -> Outcome:
    """The share of missing values in each column, at most `max_null_share`."""
    names = c["columns"] or [c["column"]]
    rows = need_rows(frame)
    cols = [column(frame, n) for n in names]
    worst, worst_name, worst_count = 0.0, names[0], 0
    any_bad: np.ndarray | None = None
    for name, (values, kind) in zip(names, cols, strict=True):
        bad = missing(values, kind)
        if bad is None:
            continue
        count = int(np.count_nonzero(bad))
        if count / rows > worst:
            worst, worst_name, worst_count = count / rows, name, count
        any_bad = bad if any_bad is None else any_bad | bad
    limit = c["max_null_share"]
    where = f" in {worst_name}" if len(names) > 1 else ""
    return Outcome(
        passed=worst <= limit,
        observed=f"{worst:.4g} null{where} ({worst_count} of {rows} {plural(rows, 'row')})",
        threshold="no nulls" if limit == 0 else f"null share ≤ {fmt(limit)}",
        rows=rows,
        failing_rows=0 if any_bad is None else int(np.count_nonzero(any_bad)),
        examples=() if any_bad is None else row_numbers(any_bad),
    )


def check_range(frame: Frame, c: dict[str, Any], ctx: Context) -> Outcome:
    """Every present value finite and within [min, max] (or the open interval)."""
    values = numeric(frame, c["column"], "a range check")
    kind = frame.kinds[c["column"]]
    rows = need_rows(frame)
    lo, hi, inclusive = c["min"], c["max"], c["inclusive"]
    low, high = float(np.fmin.reduce(values)), float(np.fmax.reduce(values))
    if math.isnan(low):
        raise Unevaluable(f'column "{c["column"]}" has no values (all missing)')

    def inside(x: float) -> bool:
        above = lo is None or (x >= lo if inclusive else x > lo)
        below = hi is None or (x <= hi if inclusive else x < hi)
        return math.isfinite(x) and above and below

    count = 0
    found: tuple[str, ...] = ()
    if not (inside(low) and inside(high)):  # the extremes inside means every value is
        bad = np.isinf(values)
        if lo is not None:
            bad |= values < lo if inclusive else values <= lo
        if hi is not None:
            bad |= values > hi if inclusive else values >= hi
        count = int(np.count_nonzero(bad))
        found = failing_values(values, bad, kind)
    return Outcome(
        passed=count == 0,
        observed=f"min {show(low, kind)}, max {show(high, kind)}; {count} outside",
        threshold=bounds_text(lo, hi, inclusive),
        rows=rows,
        failing_rows=count,
        examples=found,
    )


def _allowed_array(values: list[Any], kind: str) -> np.ndarray:
    if kind == "string":
        return np.array([str(v).lower() if isinstance(v, bool) else str(v) for v in values])
    out = []
    for v in values:
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            continue  # a word can never equal a number; such values simply never match
    return np.array(out, dtype=float)


def check_allowed_values(frame: Frame, c: dict[str, Any], ctx: Context) -> Outcome:
    """Every present value is one of `values` (missing values are not_null's business)."""
    values, kind = column(frame, c["column"])
    rows = need_rows(frame)
    allowed = _allowed_array(c["values"], kind)
    absent = missing(values, kind)
    if absent is not None and bool(absent.all()):
        raise Unevaluable(f'column "{c["column"]}" has no values (all missing)')
    ok = np.zeros(rows, dtype=bool) if absent is None else absent.copy()
    if len(allowed) <= SMALL_ALLOWED:
        for a in allowed:
            ok |= values == a
    else:
        ok |= np.isin(values, allowed)
    bad = ~ok
    count = int(np.count_nonzero(bad))
    listed = ", ".join(show(a) for a in allowed[:20]) + (", …" if len(allowed) > 20 else "")
    return Outcome(
        passed=count == 0,
        observed=f"{count} {plural(count, 'row')} with other values",
        threshold=f"one of {listed}" if len(allowed) else "no numeric values listed",
        rows=rows,
        failing_rows=count,
        examples=failing_values(values, bad) if count else (),
    )


def check_unique(frame: Frame, c: dict[str, Any], ctx: Context) -> Outcome:
    """No key (one column or a composite) appears twice; rows with a missing part are skipped."""
    names = c["columns"] or [c["column"]]
    need_rows(frame)
    cols = [column(frame, n) for n in names]
    present: np.ndarray | None = None
    for values, kind in cols:
        gap = missing(values, kind)
        if gap is not None:
            present = ~gap if present is None else present & ~gap
    keys = [v if present is None else v[present] for v, _ in cols]
    n = len(keys[0])
    if n == 0:
        raise Unevaluable("every key has a missing part")
    if len(keys) == 1:
        ordered = [np.sort(keys[0])]
    else:
        order = np.lexsort(keys[::-1])
        ordered = [k[order] for k in keys]
    dup = np.ones(n - 1, dtype=bool)
    for k in ordered:
        dup &= k[1:] == k[:-1]
    count = int(np.count_nonzero(dup))
    found: tuple[str, ...] = ()
    if count:
        at = np.flatnonzero(dup)[:1000] + 1
        if len(ordered) == 1:
            found = examples(ordered[0][at], cols[0][1])
        else:
            parts = [[show(v) for v in k[at].tolist()] for k in ordered]
            found = examples(np.array([", ".join(p) for p in zip(*parts, strict=True)]))
    return Outcome(
        passed=count == 0,
        observed=f"{count} duplicate {plural(count, 'row')}",
        threshold=f"unique ({', '.join(names)})",
        rows=n,
        failing_rows=count,
        examples=found,
    )


def check_row_count(frame: Frame, c: dict[str, Any], ctx: Context) -> Outcome:
    rows = frame.rows
    lo, hi = c["min"], c["max"]
    return Outcome(
        passed=within(rows, lo, hi),
        observed=f"{rows} {plural(rows, 'row')}",
        threshold=bounds_text(lo, hi),
        rows=rows,
    )


def check_freshness(frame: Frame, c: dict[str, Any], ctx: Context) -> Outcome:
    """The newest timestamp (a column, or the files' modification time) within `max_age`."""
    if c["column"]:
        values = numeric(frame, c["column"], "a freshness check")
        need_rows(frame)
        finite = np.isfinite(values)
        if not finite.any():
            raise Unevaluable(f'column "{c["column"]}" has no finite timestamps')
        newest = float(np.max(values, where=finite, initial=-math.inf))
        what = f"newest {c['column']}"
    else:
        if ctx.modified_at is None:
            raise Unevaluable('no "column" given and the source has no file modification time')
        newest, what = ctx.modified_at, "files modified"
    old = ctx.at - newest
    return Outcome(
        passed=old <= c["max_age"],
        observed=f"{age(old)} old ({what} {iso(newest)})",
        threshold=f"≤ {age(c['max_age'])} old",
        rows=frame.rows,
    )


def _statistic(frame: Frame, c: dict[str, Any], ctx: Context, stat: str) -> Outcome:
    """mean/std of the present values within min/max and/or N sigmas of the reference."""
    name = c["column"]
    values = numeric(frame, name, f"a {stat} check")
    need_rows(frame)
    present = ~np.isnan(values)
    n = int(np.count_nonzero(present))
    if n == 0:
        raise Unevaluable(f'column "{name}" has no values (all missing)')
    with np.errstate(all="ignore"):
        observed = float(
            np.mean(values, where=present) if stat == "mean" else np.std(values, where=present)
        )
    if not math.isfinite(observed):
        raise Unevaluable(f"the {stat} of {name} is {fmt(observed)} (the column holds inf)")
    lo, hi = c["min"], c["max"]
    parts = [bounds_text(lo, hi)] if lo is not None or hi is not None else []
    message = ""
    if c["sigmas"] is not None:
        ref = ctx.reference()
        feature = ref.profile.get("features", {}).get(name, {})
        ref_mean, ref_std = feature.get("mean"), feature.get("std")
        if ref_mean is None or ref_std is None:
            raise Unevaluable(
                f"the reference ({ref.model} v{ref.version}) has no mean/std for {name}"
            )
        s = c["sigmas"]
        if stat == "mean":
            slo, shi = ref_mean - s * ref_std, ref_mean + s * ref_std
        else:  # a spread may shrink or grow by the same factor, 1 + sigmas
            slo, shi = ref_std / (1 + s), ref_std * (1 + s)
        lo = slo if lo is None else max(lo, slo)
        hi = shi if hi is None else min(hi, shi)
        parts.append(f"{fmt(s)}σ of {ref.model} v{ref.version}: {bounds_text(slo, shi)}")
        message = f"reference {stat} {fmt(ref_mean if stat == 'mean' else ref_std)}"
    return Outcome(
        passed=within(observed, lo, hi),
        observed=fmt(observed),
        threshold="; ".join(parts),
        rows=n,
        message=message,
    )


def check_mean(frame: Frame, c: dict[str, Any], ctx: Context) -> Outcome:
    return _statistic(frame, c, ctx, "mean")


def check_std(frame: Frame, c: dict[str, Any], ctx: Context) -> Outcome:
    return _statistic(frame, c, ctx, "std")


def check_drift(frame: Frame, c: dict[str, Any], ctx: Context) -> Outcome:
    """The share of drifted features against the reference profile, at most `max_share`."""
    need_rows(frame)
    ref = ctx.reference()
    profiled = list(ref.profile.get("features", {}))
    names = c["columns"] or profiled
    if not names:
        raise Unevaluable(f"the reference ({ref.model} v{ref.version}) profiles no features")
    for name in names:
        column(frame, name)
        if name not in profiled:
            raise Unevaluable(
                f"the reference ({ref.model} v{ref.version}) has no profile of {name}"
            )
    features = drift.compare_profile(ref.profile, frame, names, method=c["method"])
    broken = [f for f in features if f.level == "error"]
    if broken:
        raise Unevaluable(broken[0].error or f"{broken[0].name}: drift not computable")
    drifted = [f for f in features if f.level == "drift"]
    share = len(drifted) / len(features)
    return Outcome(
        passed=share <= c["max_share"],
        observed=f"{share:.3g} of features drifted ({len(drifted)} of {len(features)})",
        threshold=f"share ≤ {fmt(c['max_share'])} vs {ref.model} v{ref.version}",
        rows=frame.rows,
        failing_rows=0,
        examples=tuple(f"{f.name}: {f.method} {show(f.score)}" for f in drifted[:MAX_EXAMPLES]),
    )


def check_custom(frame: Frame, c: dict[str, Any], ctx: Context) -> Outcome:
    """`fn(frame, **args)` returning (passed, observed) or a dict with passed/observed."""
    try:
        fn = resolve_callable(c["call"])
    except DataError as exc:
        raise Unevaluable(str(exc)) from None
    if not callable(fn):
        raise Unevaluable(f"{c['call']} is not callable")
    try:
        out = fn(frame, **c["args"])
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise Unevaluable(
            f"{c['call']} raised {type(exc).__name__}: {first}".rstrip(": ")
        ) from None
    if isinstance(out, dict) and "passed" in out:
        passed, observed = out["passed"], out.get("observed")
        failing = out.get("failing_rows", 0)
        found = out.get("examples", ())
    elif isinstance(out, tuple) and len(out) == 2:
        (passed, observed), failing, found = out, 0, ()
    else:
        raise Unevaluable(
            f"{c['call']} returned {type(out).__name__}; expected (passed, observed) or a dict"
        )
    if not isinstance(passed, bool | np.bool_):
        raise Unevaluable(f"{c['call']} returned passed={passed!r}; expected true or false")
    if isinstance(failing, bool) or not isinstance(failing, int | np.integer):
        raise Unevaluable(f"{c['call']} returned failing_rows={failing!r}; expected an integer")
    if not isinstance(found, list | tuple):
        raise Unevaluable(f"{c['call']} returned examples that are not a list")
    return Outcome(
        passed=bool(passed),
        observed=None if observed is None else show(observed),
        threshold=c["call"],
        rows=frame.rows,
        failing_rows=int(failing),
        examples=tuple(show(e) for e in found[:MAX_EXAMPLES]),
    )


Evaluator = Callable[[Frame, dict[str, Any], Context], Outcome]
EVALUATORS: dict[str, Evaluator] = {
    "schema": check_schema,
    "not_null": check_not_null,
    "range": check_range,
    "allowed_values": check_allowed_values,
    "unique": check_unique,
    "row_count": check_row_count,
    "freshness": check_freshness,
    "mean": check_mean,
    "std": check_std,
    "drift": check_drift,
    "custom": check_custom,
}


# -- running a dataset's checks -----------------------------------------------------


def evaluate(frame: Frame, check: dict[str, Any], ctx: Context) -> CheckResult:
    """One check's result; every failure to evaluate becomes `error` with one line."""
    base = CheckResult(
        dataset=ctx.dataset,
        name=check["name"],
        kind=check["type"],
        severity=check["severity"],
        result="error",
    )
    try:
        with np.errstate(all="ignore"):
            o = EVALUATORS[check["type"]](frame, check, ctx)
    except Unevaluable as exc:
        return replace(base, result="error", message=str(exc), rows_examined=frame.rows)
    except Exception as exc:  # odd data must cost one result, never the whole pass
        return replace(
            base,
            result="error",
            message=f"{type(exc).__name__}: {exc}".splitlines()[0],
            rows_examined=frame.rows,
        )
    return replace(
        base,
        result="pass" if o.passed else check["severity"],
        observed=o.observed,
        threshold=o.threshold,
        rows_examined=o.rows,
        failing_rows=o.failing_rows,
        examples=o.examples,
        message=o.message,
    )


def run_checks(
    ws: Workspace,
    dataset: str,
    frame: Frame,
    *,
    snapshot_id: int | None = None,
    run_id: int | None = None,
    modified_at: float | None = None,
) -> list[CheckResult]:
    """Evaluate the dataset's configured checks on `frame`, record and return the results."""
    if dataset not in ws.config.datasets:
        raise LookupError(f'no dataset named "{dataset}" in {ws.config.path.name}')
    ctx = Context(ws, dataset, now(), modified_at)
    results = [
        replace(evaluate(frame, check, ctx), snapshot_id=snapshot_id, run_id=run_id, at=ctx.at)
        for check in ws.config.datasets[dataset]["checks"]
    ]
    return stored_checks.record_results(ws.store, results)


def run_dataset(ws: Workspace, dataset: str, run_id: int | None = None) -> list[CheckResult]:
    """Load the dataset, record a snapshot, run its checks (the on-demand and scheduled path).

    Data that cannot be read gives every check an `error` result with the
    loader's one-line message, so on-call sees it rather than stale passes.
    """
    if dataset not in ws.config.datasets:
        raise LookupError(f'no dataset named "{dataset}" in {ws.config.path.name}')
    try:
        loaded = load_dataset(ws.config, dataset)
    except DataError as exc:
        t = now()
        failed = [
            CheckResult(
                dataset=dataset,
                name=c["name"],
                kind=c["type"],
                severity=c["severity"],
                result="error",
                message=f"cannot load the data: {exc}",
                run_id=run_id,
                at=t,
            )
            for c in ws.config.datasets[dataset]["checks"]
        ]
        return stored_checks.record_results(ws.store, failed)
    frame = loaded.frame
    snapshot = stored_checks.record_snapshot(
        ws.store,
        dataset,
        loaded.source,
        frame.rows,
        dict(frame.kinds),
        frame.fingerprint(),
        run_id=run_id,
    )
    return run_checks(
        ws, dataset, frame, snapshot_id=snapshot.id, run_id=run_id, modified_at=loaded.modified_at
    )


def blocking(results: list[CheckResult]) -> list[CheckResult]:
    """Results that must stop training: a `fail`-severity check that failed or could not run."""
    return [r for r in results if r.severity == "fail" and r.result in ("fail", "error")]

"""What a check type is made of, what its evaluator gets and returns, and the config
rules several check types share. Nothing here loads NumPy (see `lookout.scheduler.checks`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from lookout.scheduler.validate import Invalid, Key, join, list_of, nonempty
from lookout.storage import registry

if TYPE_CHECKING:
    from lookout.scheduler.frame import Frame
    from lookout.scheduler.workspace import Workspace


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
    """What checks need beyond the frame: the workspace, the clock, the file time.

    `streaming` says the data comes in record batches that need not fit in
    memory together (a check's running state then keeps summaries, not rows,
    where it can).
    """

    ws: Workspace
    dataset: str
    at: float
    modified_at: float | None
    streaming: bool = False
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


class Running(Protocol):
    """A check's running state over one pass: fed each record batch, then asked for the outcome.

    `update(frame, first_row)` takes the next batch (`first_row`: how many
    rows came before it) and may raise Unevaluable; `finish(rows, kinds)`
    gets the number of rows seen and each column's kind (the widest any
    batch had) and returns the Outcome or raises Unevaluable. One batch
    holding the whole dataset gives the in-memory result.
    """

    def update(self, frame: Frame, first_row: int) -> None: ...

    def finish(self, rows: int, kinds: dict[str, str]) -> Outcome: ...


Start = Callable[[dict[str, Any], Context], Running]
Rules = Callable[[str, dict[str, Any]], None]


def no_rules(label: str, check: dict[str, Any]) -> None:
    """For check types whose keys alone say what is valid."""


@dataclass(frozen=True)
class CheckType:
    """One row of the check-type table.

    `keys` are the check's own keys in lookout.toml (beside name, type,
    severity and description), validated with `lookout.scheduler.validate`;
    `rules` refuse, with `Invalid`, combinations the keys alone cannot (it gets
    the check's label, e.g. ``datasets.d.checks[0](name)``, and its validated
    keys); `start` makes the check's running state (`Running`) for one pass,
    which takes whole columns of each record batch. A state imports NumPy
    inside, so reading a config never loads it.
    """

    name: str
    keys: dict[str, Key]
    start: Start
    rules: Rules = no_rules

    def evaluate(self, frame: Frame, check: dict[str, Any], ctx: Context) -> Outcome:
        """The check on a frame in memory: its running state fed one batch."""
        state = self.start(check, ctx)
        state.update(frame, 0)
        return state.finish(frame.rows, dict(frame.kinds))


# -- what several check types share ---------------------------------------------------

COLUMN_KEYS = {"column": Key(nonempty), "columns": Key(list_of(nonempty))}


def one_column_key(kind: str, label: str, check: dict[str, Any]) -> None:
    """`column` or `columns` (COLUMN_KEYS), exactly one of them."""
    if not (check["column"] or check["columns"]):
        raise Invalid(label, f'a {kind} check needs "column" or "columns"')
    if check["column"] and check["columns"]:
        raise Invalid(label, f'a {kind} check takes "column" or "columns", not both')


def not_empty(key: str, label: str, check: dict[str, Any]) -> None:
    """A list or table that, when given, holds at least one entry."""
    if check[key] is not None and len(check[key]) == 0:
        raise Invalid(join(label, key), "expected at least one entry")


def some_bound(kind: str, label: str, check: dict[str, Any]) -> None:
    if check["min"] is None and check["max"] is None:
        raise Invalid(label, f'a {kind} check needs "min", "max" or both')


def ordered_bounds(label: str, check: dict[str, Any]) -> None:
    lo, hi = check["min"], check["max"]
    if lo is not None and hi is not None and lo > hi:
        raise Invalid(label, f"min ({lo:g}) is greater than max ({hi:g})")

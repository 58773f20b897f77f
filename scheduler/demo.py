"""The demo workspace: the whole MLOps loop on scikit-learn's bundled datasets.

Nothing here writes rows itself: the history is made by the real pipelines,
checks, drift engine and registry, driven the way people and serving systems
would drive them. `build()` makes a workspace whose history already holds a
promotion, a rollback, a pending approval, drift and a failing check;
`Traffic` then keeps serving predictions whose inputs drift further, and
rewrites the incoming data file now and then, sometimes broken.
"""

from __future__ import annotations

import csv
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from lookout.scheduler import drift_job, promotion, sdk, training
from lookout.scheduler.checks import engine as check_engine
from lookout.scheduler.config import CONFIG_NAME
from lookout.scheduler.frame import Frame
from lookout.scheduler.pipeline import queue_run
from lookout.scheduler.service import Scheduler
from lookout.scheduler.workspace import Workspace, open_workspace
from lookout.storage import registry
from lookout.storage.identity import current_user

MARKER = "# lookout demo workspace"
# Wine features whose live distribution moves away from training over the first minutes.
SHIFTED = {"alcohol": 1.2, "color_intensity": 1.8, "proline": 1.4, "flavanoids": -1.2, "hue": -1.0}
RAMP_STEPS = 12  # batches until the shift is complete
TRAFFIC_SECONDS = 5.0  # one inference batch per model this often (divided by --speed)
# A new wine file this often (divided by --speed): the first broken again, then good and
# broken in turn. Until the first good one (twice this) the story the README's tour
# tells holds: the check red, the last run failed at validate, the candidate waiting.
INCOMING_SECONDS = 600.0
MISLABELLED = 0.05  # share of the wine rows on file with a wrong label, as real data has

CONFIG = """\
{marker} (made by `lookout demo`; `lookout demo --reset` starts it over)

[workspace]
name = "demo"
refresh = "1s"

[scheduler]
heartbeat = "2s"
lease = "10s"
misfire_grace = "1m"

[policy]
four_eyes = true
approvals_required = 1
metric_tolerance = 0.02
[policy.roles]
operator = ["{user}"]
approver = ["{user}"]
admin = ["{user}"]

[datasets.wine]
source = "data/wine/*.csv"
check_schedule = "{checks}"

[[datasets.wine.checks]]
name = "schema"
type = "schema"
columns = {{ alcohol = "number", magnesium = "number", proline = "number", target = "integer" }}

[[datasets.wine.checks]]
name = "magnesium_present"
type = "not_null"
column = "magnesium"

[[datasets.wine.checks]]
name = "alcohol_range"
type = "range"
column = "alcohol"
min = 8
max = 16
severity = "warn"

[[datasets.wine.checks]]
name = "enough_rows"
type = "row_count"
min = 100

[[datasets.wine.checks]]
name = "known_classes"
type = "allowed_values"
column = "target"
values = [0, 1, 2]

[datasets.diabetes]
source = "data/diabetes/*.csv"

[[datasets.diabetes.checks]]
name = "bmi_present"
type = "not_null"
column = "bmi"

[[datasets.diabetes.checks]]
name = "enough_rows"
type = "row_count"
min = 200

[models.wine_quality]
task = "classification"
target = "target"
primary_metric = "f1"
[models.wine_quality.drift]
schedule = "{drift}"
window_rows = 400
share_threshold = 0.3

[models.diabetes_progression]
task = "regression"
target = "target"
primary_metric = "rmse"
[models.diabetes_progression.drift]
schedule = "{drift}"
window_rows = 400

[pipelines.wine_train]
dataset = "wine"
model = "wine_quality"
estimator = "sklearn.ensemble.RandomForestClassifier"
params = {{ n_estimators = 60, random_state = 0 }}
schedule = "{train}"
[pipelines.wine_train.triggers]
files = "data/wine/*.csv"
drift = true

[pipelines.diabetes_train]
dataset = "diabetes"
model = "diabetes_progression"
estimator = "sklearn.linear_model.Ridge"
params = {{ alpha = 0.5 }}
schedule = "{train}"
[pipelines.diabetes_train.triggers]
drift = true
"""


class DemoError(Exception):
    """The demo cannot be built here; one line for the user."""


def _interval(seconds: float, speed: float) -> str:
    return f"{max(seconds / speed, 1.0):.0f}s"


def _write_csv(path: Path, frame: Frame, rows: np.ndarray | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    part = frame if rows is None else frame.take(rows)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(part.names)
        cols = [part[n] for n in part.names]
        ints = [part.kinds[n] == "integer" for n in part.names]
        for i in range(part.rows):
            w.writerow(
                [
                    "" if np.isnan(c[i]) else (str(int(c[i])) if is_int else f"{c[i]:.6g}")
                    for c, is_int in zip(cols, ints, strict=True)
                ]
            )
    tmp.replace(path)  # a file trigger never sees half a file


def _as_written(values: np.ndarray) -> np.ndarray:
    """Values as they read back from the CSV files (six significant digits)."""
    return np.array([float(f"{v:.6g}") for v in values.tolist()])


def _bundled(name: str) -> Frame:
    from lookout.scheduler import examples

    frame: Frame = getattr(examples, name)()
    return frame


def is_demo(root: Path) -> bool:
    path = root / CONFIG_NAME
    return path.is_file() and path.read_text(encoding="utf-8").startswith(MARKER)


def write_config(root: Path, speed: float) -> None:
    (root / CONFIG_NAME).write_text(
        CONFIG.format(
            marker=MARKER,
            user=current_user(),
            checks=_interval(30, speed),
            drift=_interval(10, speed),
            train=_interval(3600, speed),
        ),
        encoding="utf-8",
    )


def write_data(root: Path) -> None:
    """The first data files: two thirds of each bundled dataset. A few wine rows carry a
    wrong label, so no model scores a perfect f1 on them: production is good, not
    perfect, and a later candidate can pass the metric gate."""
    rng = np.random.default_rng(7)
    for name in ("wine", "diabetes"):
        frame = _bundled(name)
        rows = np.sort(rng.permutation(frame.rows)[: frame.rows * 2 // 3])
        part = frame.take(rows)
        if name == "wine":  # its own generator: the diabetes rows stay as they were
            part = _mislabel(part, MISLABELLED, np.random.default_rng(8))
        _write_csv(root / "data" / name / "base.csv", part)


def _mislabel(frame: Frame, share: float, rng: np.random.Generator) -> Frame:
    target = frame["target"].copy()
    wrong = rng.random(len(target)) < share
    target[wrong] = (target[wrong] + 1) % 3
    return Frame({**frame.columns, "target": target}, dict(frame.kinds))


@dataclass
class Traffic:
    """A serving system: predicts with production, logs inputs, and later the labels."""

    ws: Workspace
    seed: int = 11
    step: int = 0  # how far the inputs have drifted (RAMP_STEPS: all the way)
    incoming_every: int = 6  # ticks between new data files
    ticks: int = 0  # batches served since this serving system started
    rng: np.random.Generator = field(init=False)
    frames: dict[str, Frame] = field(init=False)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self.frames = {
            "wine_quality": _bundled("wine"),
            "diabetes_progression": _bundled("diabetes"),
        }

    def shift(self) -> float:
        return min(self.step / RAMP_STEPS, 1.0)

    def sample(self, model: str, rows: int) -> tuple[Frame, np.ndarray]:
        """Real rows with a little noise; wine inputs drift as the steps go on."""
        frame = self.frames[model]
        idx = self.rng.integers(0, frame.rows, rows)
        cols = {}
        for name in frame.names:
            if name == "target":
                continue
            col = _as_written(frame[name][idx].astype(float))
            if model == "wine_quality":
                std = float(np.std(frame[name])) or 1.0
                col = col + self.rng.normal(0, 0.05 * std, rows)
                col = col + SHIFTED.get(name, 0.0) * self.shift() * std
            cols[name] = col
        return Frame(cols, {n: "number" for n in cols}), frame["target"][idx]

    def serve(self, model: str, rows: int = 120) -> None:
        prod = registry.aliases(self.ws.store, model).get("production")
        if prod is None:
            return
        version = registry.get_version(self.ws.store, model, prod)
        if version is None or version.artifact_path is None:
            return
        bundle = training.load_version(self.ws, version)
        inputs, truth = self.sample(model, rows)
        x = training.matrix(inputs, bundle["features"], bundle["codes"])
        predictions = bundle["estimator"].predict(x)
        ids = [f"{model}-{self.step}-{i}" for i in range(rows)]
        sdk.log_inferences(
            self.ws, model, inputs.columns, prediction_ids=ids, predictions=predictions
        )
        sdk.log_labels(self.ws, model, ids, truth)

    def incoming(self, broken: bool) -> None:
        """A new wine data file, drawn from today's (shifted) distribution; maybe broken."""
        frame = self.frames["wine_quality"]
        inputs, truth = self.sample("wine_quality", 60)
        cols = dict(inputs.columns)
        cols["target"] = truth.astype(float)
        if broken:
            cols["magnesium"] = cols["magnesium"].copy()
            cols["magnesium"][::4] = np.nan
        kinds = {n: frame.kinds[n] for n in cols}
        _write_csv(self.ws.root / "data" / "wine" / "incoming.csv", Frame(cols, kinds))

    def tick(self) -> None:
        """One batch for each model; now and then a new data file: the first broken, then
        good and broken in turn."""
        self.step += 1
        self.ticks += 1
        for model in self.frames:
            self.serve(model)
        if self.ticks % self.incoming_every == 0:
            self.incoming(broken=(self.ticks // self.incoming_every) % 2 == 1)

    def run(self, stop: threading.Event, interval: float) -> None:
        while not stop.wait(interval):
            try:
                self.tick()
            except Exception:  # a serving hiccup must not end the demo
                continue


def _run(ws: Workspace, sched: Scheduler, pipeline: str, trigger: str, by: str) -> None:
    queue_run(ws, pipeline, trigger, by)
    sched.run_once()


def _pending(ws: Workspace, model: str) -> int:
    requests = registry.list_requests(ws.store, model=model, status="pending")
    if not requests:
        raise DemoError(f"the {model} pipeline opened no promotion request")
    return requests[0].id


def build_history(ws: Workspace, say: Callable[[str], None]) -> None:
    """The scripted first hour: two promotions, a rollback, a pending approval, drift, a bad file."""
    user = current_user()
    sched = Scheduler(ws)
    say("first scheduled runs: training wine_quality v1 and diabetes_progression v1")
    sched.run_once()  # a new scheduler runs every pipeline once, then on its schedule
    promotion.approve(ws, _pending(ws, "wine_quality"), user, "first production model")
    promotion.approve(ws, _pending(ws, "diabetes_progression"), user, "first production model")

    traffic = Traffic(ws)
    traffic.incoming(broken=False)
    say("new wine data arrived: training wine_quality v2")
    _run(ws, sched, "wine_train", "file", "file:incoming.csv")
    promotion.approve(ws, _pending(ws, "wine_quality"), user, "more data, better f1")
    traffic.tick()
    promotion.rollback(ws, "wine_quality", user, "v2 mislabels class 2 on live traffic")
    say("rolled wine_quality back to v1; more wine data: training v3 for review")
    # the schedule trains it, so its request is the pipeline's and you may approve it; on
    # v2's data it would end unchanged, so fresh rows arrive first
    traffic.incoming(broken=False)
    _run(ws, sched, "wine_train", "schedule", "scheduler")

    say("serving traffic while the wine inputs drift")
    for _ in range(RAMP_STEPS):
        traffic.tick()
        for model in traffic.frames:
            drift_job.run_drift(ws, model)
    say("a broken wine file arrives; the drift-triggered retraining meets it")
    traffic.incoming(broken=True)
    check_engine.run_dataset(ws, "wine")
    sched.run_once()  # the retraining drift asked for: its validate stage stops it


def build(
    root: Path, speed: float = 1.0, reset: bool = False, say: Callable[[str], None] = print
) -> Workspace:
    """Create (or reuse) the demo workspace in `root`; safe to run twice."""
    root = root.expanduser().resolve()
    if (root / CONFIG_NAME).exists() and not is_demo(root):
        raise DemoError(f"{root}: holds a workspace that is not a demo; choose another directory")
    if reset and is_demo(root):
        for name in ("lookout.db", "lookout.db-wal", "lookout.db-shm", CONFIG_NAME):
            (root / name).unlink(missing_ok=True)
        for name in ("artifacts", "data", "lookout.db-batches"):
            shutil.rmtree(root / name, ignore_errors=True)
    fresh = not is_demo(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
        write_config(root, speed)  # always: --speed may differ from last time
        if fresh:
            write_data(root)
        ws = open_workspace(root)
    except OSError as exc:
        raise DemoError(f"{root}: cannot write the demo workspace: {exc.strerror or exc}") from None
    if fresh:
        build_history(ws, say)
    return ws

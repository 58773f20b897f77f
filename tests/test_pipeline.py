"""Pipeline runs for real: scikit-learn training, stage records, failures, cancel, retries."""

from __future__ import annotations

import subprocess
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from lookout.scheduler import pipeline, sdk, stages, training
from lookout.scheduler.pipeline import Runner
from lookout.scheduler.workspace import Workspace
from lookout.storage import events, pipelines, registry
from lookout.storage.records import Run

FAST = """
[scheduler]
lease = "3s"
heartbeat = "1s"
poll = "100ms"
"""


def write_csv(path: Path, rows: int = 120, seed: int = 1, extra: str = "") -> None:
    """A small separable two-class table: y is 1 when a + b > 0."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=rows), rng.normal(size=rows)
    lines = ["a,b,y"] + [f"{x:.4f},{z:.4f},{int(x + z > 0)}" for x, z in zip(a, b, strict=True)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n" + extra)


def config(
    pipeline_extra: str = "",
    *,
    source: str = "data/*.csv",
    estimator: str = "sklearn.tree.DecisionTreeClassifier",
    head: str = FAST,
    checks: str = "",
) -> str:
    return (
        textwrap.dedent(head)
        + textwrap.dedent(
            f"""
        [datasets.table]
        source = "{source}"
        {checks}

        [models.m]
        task = "classification"
        target = "y"
        primary_metric = "accuracy"

        [pipelines.p]
        dataset = "table"
        model = "m"
        estimator = "{estimator}"
        params = {{ max_depth = 3, random_state = 0 }}
        """
        )
        + textwrap.dedent(pipeline_extra)
    )


STAGES_PY = """
import pathlib, sys, logging, time

def shout(ctx):
    print("to stdout")
    print("to stderr", file=sys.stderr)
    ctx.log.info("a log record")
    logging.getLogger("user.code").warning("a warning from user code")
    return {"seen": ctx.data["frame"].rows}

def boom(ctx):
    raise ValueError("the sky fell\\nsecond line")

def hang(ctx):
    ctx.cancelled.wait(30)

def wait_for_cancel(ctx):
    pathlib.Path(ctx.ws.root, "started").write_text("x")
    if not ctx.cancelled.wait(30):
        raise RuntimeError("never cancelled")

def flaky(ctx):
    marker = pathlib.Path(ctx.ws.root, "tried")
    if not marker.exists():
        marker.write_text("1")
        raise RuntimeError("first attempt fails")
    return {"ok": 1}

def hold(ctx):
    root = pathlib.Path(ctx.ws.root)
    (root / f"holding-{ctx.run_id}").write_text("x")
    print("holding", flush=True)
    while not (root / "release").exists():
        if ctx.cancelled.wait(0.05):
            raise RuntimeError("cancelled")
"""


def make(make_workspace: Callable[..., Workspace], text: str, name: str = "ws") -> Workspace:
    ws = make_workspace(text, name)
    write_csv(ws.root / "data" / "train.csv")
    (ws.root / "code").mkdir()
    (ws.root / "code" / "lookout_stages.py").write_text(STAGES_PY)
    return ws


def run_now(
    ws: Workspace, name: str = "p", runner: Runner | None = None, forced: bool = False
) -> Run:
    runner = runner or Runner(ws, "test-holder")
    queued = pipeline.queue_run(ws, name, "manual", "tester", forced=forced)
    done = runner.execute(queued.id)
    assert done is not None
    return done


def stage(run: Run, name: str):
    return next(s for s in run.stages if s.name == name)


@pytest.mark.slow
def test_a_bundled_dataset_trains_version_1_then_version_2(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(
        FAST
        + """
[datasets.cancer]
source = "lookout.scheduler.examples:breast_cancer"
[[datasets.cancer.checks]]
name = "binary_target"
type = "allowed_values"
column = "target"
values = [0, 1]
[models.cancer]
task = "classification"
target = "target"
[pipelines.train]
dataset = "cancer"
model = "cancer"
estimator = "sklearn.tree.DecisionTreeClassifier"
params = { max_depth = 4, random_state = 0 }
"""
    )
    first = run_now(ws, "train")
    assert first.status == "succeeded", first.error
    assert [s.name for s in first.stages] == list(stages.BUILTINS)
    assert all(s.status == "succeeded" and s.seconds is not None for s in first.stages)
    v1 = registry.get_version(ws.store, "cancer", 1)
    assert v1 is not None and v1.run_id == first.id
    assert set(v1.metrics) == {"accuracy", "f1", "roc_auc"} and v1.metrics["accuracy"] > 0.85
    assert v1.artifact_path and Path(v1.artifact_path).parent == ws.config.artifacts / "cancer"
    assert v1.artifact_sha256 == sdk.file_sha256(v1.artifact_path)
    assert v1.lineage["snapshot_id"] == v1.snapshot_id and v1.lineage["pipeline"] == "train"
    assert registry.get_profile(ws.store, "cancer", 1) is not None
    assert stage(first, "validate").metrics["pass"] == 1
    with ws.store.write() as conn:
        registry.move_alias(conn, "cancer", "production", 1, kind="promotion", actor="tester")

    second = run_now(ws, "train", forced=True)  # the same data: unforced, it trains nothing
    assert second.status == "succeeded", second.error
    v2 = registry.get_version(ws.store, "cancer", 2)
    assert v2 is not None and v2.run_id == second.id
    evaluate = stage(second, "evaluate").metrics
    # Same seed, same split: production is scored on exactly the candidate's held-out rows.
    assert evaluate["production_version"] == 1
    assert evaluate["production_accuracy"] == pytest.approx(v1.metrics["accuracy"])
    assert v2.lineage["baseline"]["version"] == 1


def test_a_regressor_gets_regression_metrics(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(
        FAST
        + """
[datasets.d]
source = "lookout.scheduler.examples:diabetes"
[models.r]
task = "regression"
target = "target"
[pipelines.reg]
dataset = "d"
model = "r"
estimator = "sklearn.linear_model.Ridge"
"""
    )
    run = run_now(ws, "reg")
    assert run.status == "succeeded", run.error
    v = registry.get_version(ws.store, "r", 1)
    assert v is not None and set(v.metrics) == {"rmse", "mae", "r2"} and v.metrics["r2"] > 0.2


def test_the_split_is_deterministic_for_a_seed() -> None:
    y = np.array([0, 1] * 50)
    a, b = (
        training.split(y, 0.25, 7, "classification"),
        training.split(y, 0.25, 7, "classification"),
    )
    c = training.split(y, 0.25, 8, "classification")
    assert np.array_equal(a.test, b.test) and not np.array_equal(a.test, c.test)
    assert len(a.test) == 25 and set(a.test).isdisjoint(a.train)


def test_a_failing_stage_fails_the_run_and_reaches_the_timeline(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make(
        make_workspace,
        config('[[pipelines.p.stages]]\nname = "evaluate"\ncall = "lookout_stages:boom"\n'),
    )
    run = run_now(ws)
    assert run.status == "failed"
    assert run.error == "stage evaluate: ValueError: the sky fell"
    assert [s.status for s in run.stages] == [
        "succeeded",
        "succeeded",
        "succeeded",
        "failed",
        "skipped",
    ]
    failed = stage(run, "evaluate")
    assert failed.error == "ValueError: the sky fell" and "Traceback" in failed.log_tail
    assert registry.list_versions(ws.store, "m") == []
    timeline = events.list_events(ws.store, kind="run_failed")
    assert len(timeline) == 1 and "the sky fell" in timeline[0].message
    assert timeline[0].subject == "p"


def test_stage_output_and_log_records_are_captured_into_the_log_tail(
    make_workspace: Callable[..., Workspace], capsys: pytest.CaptureFixture[str]
) -> None:
    ws = make(
        make_workspace,
        config('[[pipelines.p.stages]]\nname = "shout"\ncall = "lookout_stages:shout"\n'),
    )
    run = run_now(ws)
    assert run.status == "succeeded", run.error
    shout = stage(run, "shout")
    assert run.stages[-1].name == "shout"  # extra stages run after register
    for text in ("to stdout", "to stderr", "a log record", "a warning from user code"):
        assert text in shout.log_tail
    assert shout.metrics == {"seen": 120}
    out, err = capsys.readouterr()
    assert "to stdout" not in out and "to stderr" not in err


BAD_INPUTS = [
    ("missing file", {"source": "data/nothing*.csv"}, "", "ingest", "no file matches"),
    (
        "callable raises",
        {},
        '[[pipelines.p.stages]]\nname = "train"\ncall = "lookout_stages:boom"\n',
        "train",
        "ValueError: the sky fell",
    ),
    (
        "callable hangs past its timeout",
        {},
        '[[pipelines.p.stages]]\nname = "validate"\ncall = "lookout_stages:hang"\ntimeout = "300ms"\n',
        "validate",
        "timed out after 0.3s",
    ),
    (
        "callable does not import",
        {},
        '[[pipelines.p.stages]]\nname = "extra"\ncall = "no_such_module:fn"\n',
        "extra",
        "cannot import no_such_module",
    ),
]


@pytest.mark.parametrize(
    ("label", "cfg", "extra", "where", "reason"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS]
)
def test_bad_input_fails_its_stage_with_one_line(
    make_workspace: Callable[..., Workspace],
    label: str,
    cfg: dict[str, str],
    extra: str,
    where: str,
    reason: str,
) -> None:
    ws = make(make_workspace, config(extra, **cfg))
    run = run_now(ws)
    assert run.status == "failed"
    bad = stage(run, where)
    assert bad.status == "failed" and bad.error is not None
    assert reason in bad.error and "\n" not in bad.error
    assert not any(s.status == "running" for s in run.stages)


@pytest.mark.parametrize(
    ("label", "body", "where", "reason"),
    [
        ("empty dataset", "a,b,y\n", "ingest", "no rows"),
        ("infinite feature", "a,b,y\n" + "1,inf,1\n0,2,0\n" * 20, "train", "infinite"),
        ("missing target", "a,b,y\n" + "1,2,\n0,2,0\n3,1,1\n" * 10, "train", "missing"),
        ("text feature", "a,b,y\n" + "1,x,1\n0,z,0\n" * 20, "train", "holds text"),
    ],
    ids=["empty", "inf", "nan-target", "text"],
)
def test_bad_data_fails_its_stage_and_the_next_good_run_succeeds(
    make_workspace: Callable[..., Workspace], label: str, body: str, where: str, reason: str
) -> None:
    ws = make_workspace(config(source="data/train.csv"))
    (ws.root / "data").mkdir()
    (ws.root / "data" / "train.csv").write_text(body)
    runner = Runner(ws, "test-holder")
    run = run_now(ws, runner=runner)
    assert run.status == "failed"
    assert stage(run, where).status == "failed"
    assert reason in (stage(run, where).error or "")
    write_csv(ws.root / "data" / "train.csv")
    assert run_now(ws, runner=runner).status == "succeeded"


def test_a_blocking_check_stops_the_run_before_training(
    make_workspace: Callable[..., Workspace],
) -> None:
    checks = (
        '[[datasets.table.checks]]\nname = "plenty"\ntype = "allowed_values"\n'
        'column = "y"\nvalues = [7]\n'
    )
    ws = make(make_workspace, config(checks=checks))
    run = run_now(ws)
    assert run.status == "failed"
    assert stage(run, "validate").error == "blocking checks failed: plenty (fail)"
    assert stage(run, "train").status == "skipped"


def test_cancel_sets_the_flag_for_a_running_callable_and_stops_the_run(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make(
        make_workspace,
        config('[[pipelines.p.stages]]\nname = "train"\ncall = "lookout_stages:wait_for_cancel"\n'),
    )
    runner = Runner(ws, "test-holder")
    queued = pipeline.queue_run(ws, "p", "manual", "tester")
    result: list[Run | None] = []
    worker = threading.Thread(target=lambda: result.append(runner.execute(queued.id)))
    worker.start()
    tick = threading.Event()
    for _ in range(400):
        if (ws.root / "started").exists():
            break
        tick.wait(0.025)
    assert runner.cancel(queued.id, "carol")
    worker.join(10)
    run = result[0]
    assert run is not None and run.status == "cancelled"
    assert (run.cancelled_by, run.error) == ("carol", "cancelled by carol")
    assert stage(run, "train").status == "cancelled"
    assert [s.status for s in run.stages[3:]] == ["skipped", "skipped"]


def test_a_queued_run_that_is_cancelled_never_starts(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make(make_workspace, config())
    runner = Runner(ws, "test-holder")
    queued = pipeline.queue_run(ws, "p", "manual", "tester")
    assert runner.cancel(queued.id, "carol")
    assert runner.execute(queued.id) is None
    run = pipelines.get_run(ws.store, queued.id)
    assert run is not None and run.status == "cancelled"
    assert (run.cancelled_by, run.error) == ("carol", "cancelled by carol")
    assert {s.status for s in run.stages} == {"skipped"}


def test_a_failing_stage_is_retried_with_backoff(make_workspace: Callable[..., Workspace]) -> None:
    ws = make(
        make_workspace,
        config(
            'retries = 2\nretry_backoff = "10ms"\n'
            '[[pipelines.p.stages]]\nname = "extra"\ncall = "lookout_stages:flaky"\n'
        ),
    )
    run = run_now(ws)
    assert run.status == "succeeded", run.error
    extra = stage(run, "extra")
    assert (
        "attempt 1 failed: RuntimeError: first attempt fails; retrying in 0.01s" in extra.log_tail
    )


def test_a_rerun_of_an_interrupted_run_does_not_register_twice(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make(make_workspace, config())
    first = run_now(ws)
    assert first.status == "succeeded"
    with ws.store.write():
        # As if the scheduler had died after `register`, before the run was closed.
        pipelines.set_run_status(ws.store, first.id, "running")
    again = pipeline.interrupt_and_requeue(ws, first, "test")
    assert again is not None and again.retry_of == first.id and again.attempt == 2
    rerun = Runner(ws, "test-holder").execute(again.id)
    assert rerun is not None and rerun.status == "succeeded"
    assert [v.version for v in registry.list_versions(ws.store, "m")] == [1]
    assert stage(rerun, "register").metrics["version"] == 1
    assert pipelines.get_run(ws.store, first.id).status == "interrupted"  # type: ignore[union-attr]
    assert events.list_events(ws.store, kind="interrupted")


def test_lineage_names_the_git_commit_of_the_workspace(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make(make_workspace, config())
    git = ["git", "-C", str(ws.root), "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "lookout.toml"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "config"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    assert run_now(ws).status == "succeeded"
    v = registry.get_version(ws.store, "m", 1)
    assert v is not None and v.lineage["code_version"] == head.stdout.strip()

"""The drift job over logged windows, its events and retraining requests, and the CLI."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from lookout.scheduler import drift, sdk
from lookout.scheduler.drift_job import run_drift
from lookout.scheduler.frame import Frame
from lookout.storage import drift as drift_store
from lookout.storage import events, registry, scheduling
from lookout.storage.drift import BatchError

CONFIG = """
[workspace]
name = "t"

[datasets.shop]
source = "shop.csv"

[models.churn]
task = "classification"
target = "churned"
features = ["tenure", "charges", "plan"]
categorical = ["plan"]

[models.churn.drift]
window_rows = 2000

[models.churn.drift.features.tenure]
warn = 0.15
drift = 0.3

[models.churn.drift.features.charges]
warn = 0.15
drift = 0.3

[pipelines.retrain]
dataset = "shop"
model = "churn"
estimator = "sklearn.linear_model:LogisticRegression"

[pipelines.retrain.triggers]
drift = true

[pipelines.other]
dataset = "shop"
model = "churn"
estimator = "sklearn.linear_model:LogisticRegression"
"""

rng = np.random.default_rng(11)


def reference(rows: int = 3000) -> Frame:
    return Frame(
        {
            "tenure": rng.normal(30, 10, rows),
            "charges": rng.normal(70, 15, rows),
            "plan": rng.choice(np.array(["basic", "pro"]), rows),
            "churned": rng.integers(0, 2, rows).astype(float),
        },
        {"tenure": "number", "charges": "number", "plan": "string", "churned": "integer"},
    )


@pytest.fixture
def ws(make_workspace):
    w = make_workspace(CONFIG)
    registry.ensure_model(w.store, "churn", "classification", "f1")
    held_out = rng.integers(0, 2, 750).astype(float)  # the model's predictions, as registered
    profile = drift.build_profile(
        reference(), ["tenure", "charges", "plan"], ["plan"], target="churned", predictions=held_out
    )
    registry.register_version(w.store, "churn", profile=profile)
    with w.store.write() as conn:
        registry.move_alias(conn, "churn", "production", 1, kind="promotion", actor="t")
    return w


def log(ws, rows: int = 2000, shift: float = 0.0, ids: list[str] | None = None) -> None:
    sdk.log_inferences(
        ws,
        "churn",
        {
            "tenure": rng.normal(30 + shift * 10, 10, rows),
            "charges": rng.normal(70 + shift * 15, 15, rows),
            "plan": rng.choice(np.array(["basic", "pro"]), rows),
            "ignored": np.zeros(rows),
        },
        prediction_ids=ids,
        predictions=rng.integers(0, 2, rows) if ids else None,
    )


def drift_requests(ws) -> list:
    reqs = [scheduling.get_request(ws.store, i) for i in range(1, 50)]
    return [r for r in reqs if r is not None and r.kind == "run_pipeline"]


def test_nothing_logged_gives_no_result(ws) -> None:
    assert run_drift(ws, "churn") is None


def test_a_drift_episode_raises_one_event_and_one_retraining_request(ws) -> None:
    log(ws)
    ok = run_drift(ws, "churn")
    assert ok is not None and ok.level == "ok" and ok.rows == 2000 and ok.version == 1
    assert [f.method for f in ok.features] == ["wasserstein", "wasserstein", "jensenshannon"]
    for _ in range(3):  # drift for three windows: one event, one request
        log(ws, shift=1.0)
        r = run_drift(ws, "churn")
        assert r is not None and r.level == "drift" and r.share == pytest.approx(2 / 3)
    opened = events.list_events(ws.store, kind="drift")
    assert len(opened) == 1 and opened[0].subject == "churn" and opened[0].resolved_at is None
    reqs = drift_requests(ws)
    assert [(r.target, r.requested_by, r.args["trigger"]) for r in reqs] == [
        ("retrain", "drift-monitor", "drift")
    ]
    summary = reqs[0].args["drift"]  # what an Airflow DAG gets in its conf
    assert summary["model"] == "churn" and summary["level"] == "drift"
    assert summary["share"] == pytest.approx(2 / 3)
    assert sorted(summary["drifted"]) == ["charges", "tenure"] and summary["rows"] == 2000
    log(ws)  # back to normal: the episode closes
    assert run_drift(ws, "churn").level == "ok"
    assert events.list_events(ws.store, kind="drift")[0].resolved_at is not None
    log(ws, shift=1.0)  # a new episode pages and retrains again
    assert run_drift(ws, "churn").level == "drift"
    assert len(events.list_events(ws.store, kind="drift")) == 2
    assert len(drift_requests(ws)) == 2
    assert len(drift_store.history(ws.store, "churn")) == 6


def test_window_takes_the_newest_rows(ws) -> None:
    log(ws, shift=1.0)
    log(ws, rows=1500)
    log(ws, rows=500)
    r = run_drift(ws, "churn")
    assert r.rows == 2000 and r.window["batches"] == 2
    assert r.share == 0.0 and r.level in ("ok", "warn")


def test_labels_join_by_prediction_id_for_the_primary_metric(ws) -> None:
    ids = [f"p{i}" for i in range(2000)]
    log(ws, ids=ids)
    (batch,) = drift_store.load_window(ws.store, "churn")
    predictions = np.frombuffer(batch.columns["prediction"], dtype="<f8")
    truth = predictions.copy()
    truth[:100] = 1 - truth[:100]  # 100 of the 1000 labelled rows wrong
    sdk.log_labels(ws, "churn", ids[:1000], truth[:1000])
    r = run_drift(ws, "churn")
    assert r.performance["labelled_rows"] == 1000
    assert r.performance["metrics"]["accuracy"] == pytest.approx(0.9)
    assert r.performance["metric"] == "f1" and 0 < r.performance["value"] < 1
    assert r.prediction["method"] in ("chisquare", "jensenshannon")


def test_no_profile_or_no_production_is_an_error_result(ws, make_workspace) -> None:
    other = make_workspace(CONFIG, name="bare")
    registry.ensure_model(other.store, "churn", "classification", "f1")
    log(other)
    r = run_drift(other, "churn")
    assert r.level == "error" and "no production version" in r.error
    registry.register_version(other.store, "churn")
    with other.store.write() as conn:
        registry.move_alias(conn, "churn", "production", 1, kind="promotion", actor="t")
    r = run_drift(other, "churn")
    assert r.level == "error" and "no reference profile" in r.error
    assert drift_store.logged_rows(other.store, "churn") == 2000


def test_sdk_refuses_batches_missing_features_and_keeps_what_was_logged(ws) -> None:
    log(ws)
    with pytest.raises(BatchError, match='"plan" is missing'):
        sdk.log_inferences(ws, "churn", {"tenure": [1.0], "charges": [2.0]})
    with pytest.raises(BatchError, match='"tenure" should hold numbers'):
        sdk.log_inferences(ws, "churn", {"tenure": ["x"], "charges": [2.0], "plan": ["a"]})
    assert drift_store.logged_rows(ws.store, "churn") == 2000


def test_sdk_accepts_a_workspace_directory(ws) -> None:
    sdk.log_inferences(ws.root, "churn", {"tenure": [1.0], "charges": [2.0], "plan": ["pro"]})
    assert drift_store.logged_rows(ws.store, "churn") == 1


# -- the command line ------------------------------------------------------------------


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_lookout_log_and_drift(ws, cli, tmp_path: Path) -> None:
    body = "".join(
        f"{30 + i % 7},{70 + i % 5},{'pro' if i % 2 else 'basic'},x,p{i}\n" for i in range(50)
    )
    f = write(tmp_path / "in.csv", "tenure,charges,plan,extra,prediction_id\n" + body)
    res = cli("log", "churn", f, "--workspace", str(ws.root))
    assert res.code == 0 and "logged 50 rows" in res.out and "extra" in res.out
    run_drift(ws, "churn")
    res = cli("drift", "--json", "--workspace", str(ws.root))
    doc = res.json()
    (m,) = doc["models"]
    assert set(m) >= {"name", "level", "share", "window", "features"}
    assert m["name"] == "churn" and m["window"]["rows"] == 50
    assert [f["name"] for f in m["features"]] == ["tenure", "charges", "plan"]
    assert set(m["features"][0]) >= {"name", "method", "score", "threshold", "level"}
    assert res.code == (1 if m["level"] == "drift" else 0)
    text = cli("drift", "churn", "--workspace", str(ws.root))
    assert "tenure" in text.out and "FEATURE" in text.out


def test_lookout_drift_exits_1_at_drift(ws, cli) -> None:
    log(ws, shift=2.0)
    run_drift(ws, "churn")
    res = cli("drift", "churn", "--workspace", str(ws.root))
    assert res.code == 1 and "drift" in res.out
    assert cli("drift", "nope", "--workspace", str(ws.root)).code == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tenure,charges\n1,2\n", 'feature column "plan" is missing'),
        ("tenure,charges,plan\nabc,2,pro\n", 'feature column "tenure" should hold numbers'),
        ("tenure,charges,plan\n", "no rows"),
        ("", "empty file"),
    ],
)
def test_lookout_log_rejects_bad_files_in_one_line(ws, cli, tmp_path, text, message) -> None:
    log(ws)
    path = write(tmp_path / "bad.csv", text)
    res = cli("log", "churn", path, "--workspace", str(ws.root))
    assert res.code == 2 and message in res.err and len(res.err.strip().splitlines()) == 1
    assert res.err.count(path) == 1  # the file named once
    assert drift_store.logged_rows(ws.store, "churn") == 2000


def test_lookout_log_labels(ws, cli, tmp_path) -> None:
    f = write(tmp_path / "labels.csv", "prediction_id,churned\np1,1\np2,0\n")
    res = cli("log", "churn", f, "--labels", "--json", "--workspace", str(ws.root))
    assert res.code == 0 and res.json()["rows"] == 2
    assert drift_store.logged_rows(ws.store, "churn", "labels") == 2
    bad = write(tmp_path / "nolabel.csv", "prediction_id\np1\n")
    res = cli("log", "churn", bad, "--labels", "--workspace", str(ws.root))
    assert res.code == 2 and '"label"' in res.err


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_64_bit_prediction_ids_are_kept_digit_for_digit(ws, cli, tmp_path, fmt) -> None:
    """IDs beyond 2**53 (snowflake IDs, 64-bit hashes) would collide as float64, and labels
    would join the wrong predictions: they are logged as their digits, from any format."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    ids = [2**60 + i for i in range(3)]
    inputs = pa.table(
        {
            "prediction_id": pa.array(ids, pa.int64()),
            "tenure": [1.0, 2.0, 3.0],
            "charges": [3.0, 4.0, 5.0],
            "plan": ["pro", "basic", "pro"],
            "prediction": [1.0, 0.0, 1.0],
        }
    )
    labels = pa.table({"prediction_id": pa.array(ids[:2], pa.int64()), "churned": [1, 0]})
    for name, table in (("in", inputs), ("labels", labels)):
        path = tmp_path / f"{name}.{fmt}"
        (pq.write_table if fmt == "parquet" else pcsv.write_csv)(table, path)
    res = cli("log", "churn", str(tmp_path / f"in.{fmt}"), "--workspace", str(ws.root))
    assert res.code == 0, res.err
    extra = ("--labels", "--workspace", str(ws.root))
    assert cli("log", "churn", str(tmp_path / f"labels.{fmt}"), *extra).code == 0
    (batch,) = drift_store.load_window(ws.store, "churn")
    assert batch.columns["prediction_id"] == [str(i) for i in ids]
    (labelled,) = drift_store.load_window(ws.store, "churn", kind="labels")
    assert labelled.columns["prediction_id"] == [str(i) for i in ids[:2]]
    assert run_drift(ws, "churn").performance["labelled_rows"] == 2


def test_a_time_window_keeps_only_recent_rows(make_workspace) -> None:
    w = make_workspace(CONFIG.replace("window_rows = 2000", 'window = "1h"'), name="timed")
    registry.ensure_model(w.store, "churn", "classification", "f1")
    profile = drift.build_profile(reference(), ["tenure", "charges", "plan"], ["plan"])
    registry.register_version(w.store, "churn", profile=profile)
    with w.store.write() as conn:
        registry.move_alias(conn, "churn", "production", 1, kind="promotion", actor="t")
    t = time.time()
    old, new = np.full(300, t - 7200.0), np.concatenate([np.full(100, t - 7200.0), np.full(200, t)])
    for stamps, shift in ((old, 3.0), (new, 0.0)):
        sdk.log_inferences(
            w,
            "churn",
            {
                "tenure": rng.normal(30 + 30 * shift, 10, 300),
                "charges": rng.normal(70, 15, 300),
                "plan": rng.choice(np.array(["basic", "pro"]), 300),
            },
            timestamps=stamps,
        )
    r = run_drift(w, "churn")
    assert r.rows == 200 and r.window["kind"] == "time" and r.level != "drift"


def test_lookout_log_reads_parquet(ws, cli, tmp_path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"tenure": [1.0, 2.0], "charges": [3.0, 4.0], "plan": ["pro", "basic"]})
    pq.write_table(table, tmp_path / "in.parquet")
    res = cli("log", "churn", str(tmp_path / "in.parquet"), "--workspace", str(ws.root))
    assert res.code == 0 and drift_store.logged_rows(ws.store, "churn") == 2


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_large_file_is_logged_in_batches(ws, cli, tmp_path, monkeypatch, fmt) -> None:
    """Memory holds one batch whatever the file's size: each batch is logged (and profiled)
    on its own, and the drift window merges them."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq
    from lookout.console.commands import log as log_command

    monkeypatch.setattr(log_command, "BATCH_ROWS", 1000)
    n = 2500
    table = pa.table(
        {
            "tenure": rng.normal(30, 10, n),
            "charges": rng.normal(70, 15, n),
            "plan": rng.choice(np.array(["basic", "pro"]), n),
        }
    )
    path = tmp_path / f"big.{fmt}"
    pq.write_table(table, path) if fmt == "parquet" else pcsv.write_csv(table, path)
    res = cli("log", "churn", str(path), "--json", "--workspace", str(ws.root))
    doc = res.json()
    assert res.code == 0 and doc["rows"] == n and len(doc["batches"]) == 3
    assert f"logged {n} rows of inputs for churn (batches " in doc["message"]
    assert drift_store.logged_rows(ws.store, "churn") == n
    r = run_drift(ws, "churn")
    assert r is not None and r.rows == 2000  # the window's newest rows, over two batches


def test_a_problem_part_way_through_says_what_was_logged(ws, cli, tmp_path, monkeypatch) -> None:
    from lookout.console.commands import log as log_command
    from lookout.scheduler import frame

    monkeypatch.setattr(log_command, "BATCH_ROWS", 10_000)
    monkeypatch.setattr(frame, "_CSV_BLOCK", 64 << 10)  # read in pieces of 10,000 rows
    lines = [f"{30 + i % 7},{70 + i % 5},pro" for i in range(60_000)]
    lines[55_000] = "abc,70,pro"  # far below the first block the types come from
    path = write(tmp_path / "late.csv", "tenure,charges,plan\n" + "\n".join(lines) + "\n")
    res = cli("log", "churn", path, "--workspace", str(ws.root))
    logged = drift_store.logged_rows(ws.store, "churn")
    assert res.code == 2 and len(res.err.strip().splitlines()) == 1
    assert 'column "tenure"' in res.err and f"its first {logged} rows were logged" in res.err
    assert 0 < logged <= 55_000


def test_text_below_the_first_block_of_the_first_batch_is_read_as_text_throughout(
    ws, cli, tmp_path, monkeypatch
) -> None:
    """Nothing is logged yet when a column's kind changes inside the first batch: the file
    is read again with that column as text, and every row is logged."""
    from lookout.scheduler import frame

    monkeypatch.setattr(frame, "_CSV_BLOCK", 64 << 10)
    lines = [f"{30 + i % 7},{70 + i % 5},pro,{i % 9}" for i in range(120_000)]
    lines[110_000] = "31,70,pro,n/a-yet"  # past the head types come from, a column the model
    # ignores turns to text
    path = write(tmp_path / "late.csv", "tenure,charges,plan,note\n" + "\n".join(lines) + "\n")
    res = cli("log", "churn", path, "--json", "--workspace", str(ws.root))
    assert res.code == 0, res.err
    assert res.json()["rows"] == 120_000 and res.json()["ignored"] == ["note"]


def test_drifted_predictions_put_the_model_at_drift_whatever_its_features_say(ws) -> None:
    """Features as in training, predictions not: the model is at drift, not ok beside a
    prediction drift it ignored, and the event says why."""
    rows = 2000
    ids = [f"p{i}" for i in range(rows)]
    features = {
        "tenure": rng.normal(30, 10, rows),
        "charges": rng.normal(70, 15, rows),
        "plan": rng.choice(np.array(["basic", "pro"]), rows),
    }
    sdk.log_inferences(ws, "churn", features, prediction_ids=ids, predictions=np.ones(rows))
    r = run_drift(ws, "churn")
    assert r is not None and r.share == 0.0 and r.prediction["level"] == "drift"
    assert r.level == "drift"
    (event,) = events.list_events(ws.store, kind="drift")
    assert event.message.startswith("churn: 0 of 3 features drifted; predictions drifted (")
    assert len(drift_requests(ws)) == 1  # continuous training, as for drifted features

    # predictions like the model's held-out ones again: back to ok, the episode closes
    sdk.log_inferences(
        ws, "churn", features, prediction_ids=ids, predictions=rng.integers(0, 2, rows)
    )
    again = run_drift(ws, "churn")
    assert again is not None and again.prediction["level"] == "ok" and again.level == "ok"
    assert events.list_events(ws.store, kind="drift")[0].resolved_at is not None


def test_a_version_without_reference_predictions_shows_prediction_drift_but_keeps_its_level(
    ws,
) -> None:
    """Registered before held-out predictions were kept: compared with the training target,
    which a model's predictions need not match, so it is shown and left out of the level."""
    profile = drift.build_profile(
        reference(), ["tenure", "charges", "plan"], ["plan"], target="churned"
    )
    registry.register_version(ws.store, "churn", profile=profile)
    with ws.store.write() as conn:
        registry.move_alias(conn, "churn", "production", 2, kind="promotion", actor="t")
    rows = 2000
    features = {
        "tenure": rng.normal(30, 10, rows),
        "charges": rng.normal(70, 15, rows),
        "plan": rng.choice(np.array(["basic", "pro"]), rows),
    }
    ids = [f"p{i}" for i in range(rows)]
    sdk.log_inferences(ws, "churn", features, prediction_ids=ids, predictions=np.ones(rows))
    r = run_drift(ws, "churn")
    assert r is not None and r.prediction["reference"] == "target"
    assert r.prediction["level"] == "drift" and r.level == "ok"


@pytest.mark.slow
def test_a_regressor_serving_data_like_its_training_data_is_not_at_drift(make_workspace) -> None:
    """The demo's diabetes_progression: a ridge regression's predictions are narrower than its
    target on any data, so measured against the target they 'drifted' (KS p about 1e-6) on
    traffic drawn from the training set itself. Against its own held-out predictions they do
    not, and the model stays ok."""
    from lookout.scheduler import examples, training

    from tests.test_pipeline import run_now

    ws = make_workspace(
        '[datasets.d]\nsource = "lookout.scheduler.examples:diabetes"\n'
        '[models.progression]\ntask = "regression"\ntarget = "target"\n'
        '[pipelines.train]\ndataset = "d"\nmodel = "progression"\n'
        'estimator = "sklearn.linear_model:Ridge"\n'
    )
    assert run_now(ws, "train").status == "succeeded"
    with ws.store.write() as conn:
        registry.move_alias(conn, "progression", "production", 1, kind="promotion", actor="t")
    data = examples.diabetes()
    version = registry.get_version(ws.store, "progression", 1)
    assert version is not None
    bundle = training.load_version(ws, version)
    rows = np.random.default_rng(5).integers(0, data.rows, 3000)
    served = data.take(rows)
    features = {name: served[name] for name in bundle["features"]}
    predictions = training.predict(bundle, data, rows)
    sdk.log_inferences(
        ws,
        "progression",
        features,
        prediction_ids=[f"p{i}" for i in range(3000)],
        predictions=predictions,
    )
    r = run_drift(ws, "progression")
    assert r is not None and r.prediction["reference"] == "predictions"
    assert r.prediction["level"] != "drift" and r.level in ("ok", "warn")
    target = drift.compare_feature(
        drift_store.PREDICTION,
        registry.get_profile(ws.store, "progression", 1)["target"],  # type: ignore[index]
        Frame({drift_store.PREDICTION: predictions}, {drift_store.PREDICTION: "number"}),
    )
    assert target.level == "drift"  # what the level used to be measured against


def test_the_model_level_takes_the_worse_of_features_and_predictions() -> None:
    assert drift.model_level("ok", "drift") == "drift"
    assert drift.model_level("ok", "warn") == "warn"
    assert drift.model_level("warn", "warn") == "warn"
    assert drift.model_level("error", "warn") == "error"
    assert drift.model_level("error", "drift") == "drift"
    assert drift.model_level("drift", "ok") == "drift"
    assert drift.model_level("ok", "error") == "ok"
    assert drift.model_level("ok", None) == "ok"

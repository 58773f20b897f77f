"""The Airflow connector without an Airflow: its config errors, the DAG's task order, the
log lines it keeps, and the command line's refusals (each one line, exit 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lookout.scheduler.config import ConfigError, parse
from lookout.scheduler.connectors import airflow
from lookout.scheduler.connectors.airflow import log_text, task_order

PATH = Path("/ws/lookout.toml")
MODEL = """
[models.wine]
task = "classification"
target = "cultivar"
"""
AIRFLOW = """
[airflow]
base_url = "http://127.0.0.1:8080"
username = "lookout"
password_env = "AIRFLOW_PASSWORD"
"""
PIPELINE = """
[pipelines.train]
kind = "airflow"
dag_id = "lookout_wine"
model = "wine"
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (MODEL + PIPELINE, "pipelines.train.kind: an airflow pipeline needs [airflow] base_url"),
        (
            MODEL + AIRFLOW + PIPELINE.replace('dag_id = "lookout_wine"\n', ""),
            "pipelines.train.dag_id: missing required key (airflow pipeline)",
        ),
        (
            MODEL + AIRFLOW + PIPELINE + 'schedule = "1h"\n',
            "pipelines.train.schedule: not for an airflow pipeline"
            " (Airflow runs the DAG on its own schedule)",
        ),
        (
            MODEL + AIRFLOW + PIPELINE + 'estimator = "x.Y"\n',
            "pipelines.train.estimator: not for an airflow pipeline (the DAG trains its own model)",
        ),
        (
            MODEL + '[datasets.d]\nsource = "d.csv"\n[pipelines.train]\ndataset = "d"\n'
            'model = "wine"\nestimator = "x.Y"\ndag_id = "lookout_wine"\n',
            "pipelines.train.dag_id: only for airflow pipelines",
        ),
        (
            AIRFLOW + 'token_env = "T"\n',
            "airflow.password_env: set only one of token_env, token_file, password_env, password_file",
        ),
        (
            '[airflow]\nbase_url = "http://a"\npassword_file = "pw"\n',
            "airflow.username: missing required key (password_file needs it)",
        ),
        (
            '[airflow]\nbase_url = "http://a"\nusername = "u"\n',
            "airflow.password_env: username needs password_env or password_file",
        ),
        (
            '[airflow]\nbase_url = "airflow:8080"\n',
            'airflow.base_url: expected an http:// or https:// URL, got "airflow:8080"',
        ),
        (
            AIRFLOW + "history = 0\n",
            "airflow.history: expected an integer ≥ 1 and ≤ 100000, got 0",
        ),
        (
            '[pipelines.x]\nkind = "argo"\n',
            'pipelines.x.kind: expected one of "tabular", "custom", "airflow", got "argo"',
        ),
    ],
)
def test_bad_airflow_config_gives_exactly_one_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(text, PATH)
    assert str(info.value) == f"{PATH}: {message}"


def test_an_airflow_pipeline_gets_its_dag_and_conf() -> None:
    cfg = parse(MODEL + AIRFLOW + PIPELINE + 'conf = { warehouse = "prod" }\n', PATH)
    p = cfg.pipelines["train"]
    assert (p["kind"], p["dag_id"], p["model"], p["conf"]) == (
        "airflow",
        "lookout_wine",
        "wine",
        {"warehouse": "prod"},
    )
    section = cfg.connectors["airflow"]
    assert (section["timeout"], section["poll"], section["history"]) == (10.0, 15.0, 200)


def test_stages_follow_the_dags_dependencies_not_the_alphabet() -> None:
    tasks = [
        {"task_id": "train", "downstream_task_ids": ["evaluate"]},
        {"task_id": "evaluate", "downstream_task_ids": ["register"]},
        {"task_id": "extract", "downstream_task_ids": ["validate", "profile"]},
        {"task_id": "profile", "downstream_task_ids": []},
        {"task_id": "register", "downstream_task_ids": []},
        {"task_id": "validate", "downstream_task_ids": ["train"]},
    ]
    order = task_order(tasks)
    assert sorted(order, key=order.__getitem__) == [
        "extract",
        "profile",
        "validate",
        "train",
        "evaluate",
        "register",
    ]


def test_a_log_keeps_time_level_message_and_the_exception_not_airflows_file_paths() -> None:
    content = [
        {"event": "::group::Log message source details"},
        {"event": "/var/airflow/logs/dag_id=x/run_id=y/task_id=z/attempt=1.log"},
        {"event": "::endgroup::"},
        {"timestamp": "2026-12-03T15:32:20.49Z", "event": "::group::Pre Execute", "level": "info"},
        {"timestamp": "2026-12-03T15:32:20.59Z", "event": "read 178 rows", "level": "info"},
        {
            "timestamp": "2026-12-03T15:32:21.00Z",
            "event": "Task failed with exception",
            "level": "error",
            "error_detail": [{"exc_type": "RuntimeError", "exc_value": "boom"}],
        },
    ]
    assert log_text(content) == (
        "15:32:20 INFO read 178 rows\n"
        "15:32:21 ERROR Task failed with exception\n"
        "  RuntimeError: boom"
    )
    assert log_text([]) == "(the log is empty)"


def test_the_command_line_refuses_what_does_not_fit_in_one_line(
    make_workspace: Any, cli: Any
) -> None:
    ws = make_workspace(
        MODEL
        + AIRFLOW
        + PIPELINE
        + '[datasets.d]\nsource = "d.csv"\n'
        + '[pipelines.local]\ndataset = "d"\nmodel = "wine"\nestimator = "sklearn.linear_model.LogisticRegression"\n'
    )
    root = str(ws.root)
    refused = {
        ("local", "--conf", '{"a": 1}'): "conf is for pipelines an outside system runs;"
        " local is tabular",
        ("train", "--conf", "{nope"): "--conf: not valid JSON",
        ("train", "--conf", "[1]"): "--conf: expected a JSON object",
        ("train", "--retry", "7"): "train has no run 7",
        ("train", "--cancel", "7"): "--cancel: train has no run 7",
        ("train", "--force"): "force is for pipelines Lookout runs; train is airflow",
    }
    for args, message in refused.items():
        result = cli("run", *args, "-w", root)
        assert result.code == 2, args
        assert result.err.count("\n") == 1 and message in result.err, result.err


def test_a_token_that_cannot_go_in_a_header_is_refused_without_being_shown(
    make_workspace: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """httpx would quote such a header whole in its error; it is refused before any call."""
    monkeypatch.setenv("AIRFLOW_TOKEN", "secret-part\nrest")
    text = AIRFLOW.replace('username = "lookout"\npassword_env = "AIRFLOW_PASSWORD"', "")
    ws = make_workspace(MODEL + text + 'token_env = "AIRFLOW_TOKEN"\n' + PIPELINE)
    report = airflow.sync(ws)
    assert report.error == "the [airflow] token holds a line break; it cannot be sent in a header"
    assert airflow.last_sync(ws.store).stale


def test_airflow_down_is_one_line_after_the_retries(
    make_workspace: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.mlflow_server import free_port

    monkeypatch.setenv("AIRFLOW_PASSWORD", "pw")
    port = free_port()  # nothing listens there
    ws = make_workspace(MODEL + AIRFLOW.replace("8080", str(port)) + PIPELINE)
    report = airflow.sync(ws)
    assert report.error == (
        f"Airflow at http://127.0.0.1:{port} is unreachable (cannot connect: Connection refused)"
        " (tried 3 times)"
    )

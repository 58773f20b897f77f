"""The MLflow connector against a real `mlflow server` (SQLite backend) on loopback.

Versions are registered and aliases moved with MLflow's own client; Lookout
sees them after a sync, promotes and rolls back through them, and records the
alias moves made behind its back. Failure cases use servers that refuse,
hang or do not exist.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from lookout.scheduler import promotion
from lookout.scheduler.connectors import mlflow as connector
from lookout.storage import audit, events, registry
from lookout.storage.db import now

from tests.mlflow_server import (
    client,
    echo_server,
    free_port,
    mlflow_alias,
    mlflow_server,
    register,
    silent_server,
)

ROLES = """
[policy.roles]
operator = ["alice"]
approver = ["bob"]
"""


def config(uri: str | None, models: list[str], extra: str = "") -> str:
    names = ", ".join(f'"{m}"' for m in models)
    uri_line = f'tracking_uri = "{uri}"\n' if uri else ""
    return f'[mlflow]\n{uri_line}models = [{names}]\ntimeout = "3s"\n{extra}\n' + ROLES


@pytest.fixture(scope="module")
def mlflow_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as url:
        yield url


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connector, "BACKOFF", 0.01)


# -- against a real MLflow server ---------------------------------------------------------


@pytest.mark.slow
def test_versions_registered_in_mlflow_appear_in_lookout(make_workspace, mlflow_url) -> None:
    v1 = register(mlflow_url, "fraud", {"f1": 0.80, "auc": 0.91}, {"team": "risk"})
    v2 = register(mlflow_url, "fraud", {"f1": 0.85})
    mlf = client(mlflow_url)
    mlf.set_registered_model_alias("fraud", "champion", str(v1))
    mlf.set_registered_model_alias("fraud", "challenger", str(v2))
    ws = make_workspace(config(mlflow_url, ["fraud"]))

    report = connector.sync(ws)

    assert report.ok, report.error
    assert (report.models, report.versions_added, report.external_changes) == (1, 2, 0)
    assert registry.get_model(ws.store, "fraud").source == "mlflow"
    versions = {v.version: v for v in registry.list_versions(ws.store, "fraud")}
    assert set(versions) == {1, 2}
    assert versions[1].metrics == {"f1": 0.80, "auc": 0.91}
    assert versions[1].tags == {"team": "risk"}
    assert versions[1].params == {"max_depth": "4"}
    assert versions[1].lineage["mlflow_run_id"]
    assert registry.aliases(ws.store, "fraud") == {"production": 1, "candidate": 2}
    # Importing what MLflow already had is history, not an incident.
    assert {t.kind for t in registry.transitions(ws.store, "fraud")} == {"external"}
    assert events.list_events(ws.store, kind="external_change") == []
    status = connector.last_sync(ws.store)
    assert not status.stale and status.fetched_at is not None
    assert 0 <= (status.age() or 0) < 60

    again = connector.sync(ws)
    assert (again.ok, again.versions_added, again.external_changes) == (True, 0, 0)


@pytest.mark.slow
def test_promote_and_roll_back_through_lookout_move_the_mlflow_alias(
    make_workspace, mlflow_url
) -> None:
    register(mlflow_url, "churn", {"f1": 0.70})
    register(mlflow_url, "churn", {"f1": 0.75})
    mlf = client(mlflow_url)
    mlf.set_registered_model_alias("churn", "champion", "1")
    mlf.set_registered_model_alias("churn", "challenger", "2")
    ws = make_workspace(
        config(mlflow_url, ["churn"])
        + '[models.churn]\ntask = "classification"\nsource = "mlflow"\nprimary_metric = "f1"\n'
    )
    assert connector.sync(ws).ok

    asked = promotion.request_promotion(ws, "churn", 2, "alice", "better f1")
    assert asked.request is not None
    done = promotion.approve(ws, asked.request.id, "bob", "looks right")

    assert (done.from_version, done.to_version) == (1, 2)
    assert mlflow_alias(mlflow_url, "churn", "champion") == 2
    assert registry.aliases(ws.store, "churn")["production"] == 2

    back = promotion.rollback(ws, "churn", "alice", "errors went up")

    assert back.to_version == 1
    assert mlflow_alias(mlflow_url, "churn", "champion") == 1
    assert registry.aliases(ws.store, "churn")["production"] == 1
    # Lookout made these moves: polling does not report them as external.
    report = connector.sync(ws)
    assert (report.ok, report.external_changes) == (True, 0)
    assert events.list_events(ws.store, kind="external_change") == []
    kinds = [t.kind for t in registry.transitions(ws.store, "churn", "production")]
    assert kinds[:2] == ["rollback", "promotion"]

    # What promotion's undo uses when an alias had no version before.
    connector.delete_alias(ws, "churn", "candidate")
    assert mlflow_alias(mlflow_url, "churn", "challenger") is None
    connector.delete_alias(ws, "churn", "candidate")  # already gone is fine


@pytest.mark.slow
def test_alias_moved_directly_in_mlflow_is_an_external_change(make_workspace, mlflow_url) -> None:
    register(mlflow_url, "credit", {"f1": 0.6})
    register(mlflow_url, "credit", {"f1": 0.7})
    mlf = client(mlflow_url)
    mlf.set_registered_model_alias("credit", "champion", "1")
    ws = make_workspace(config(mlflow_url, ["credit"]))
    assert connector.sync(ws).ok

    mlf.set_registered_model_alias("credit", "champion", "2")
    report = connector.sync(ws)

    assert (report.ok, report.external_changes) == (True, 1)
    assert registry.aliases(ws.store, "credit")["production"] == 2
    move = registry.transitions(ws.store, "credit", "production")[0]
    assert (move.kind, move.actor, move.from_version, move.to_version) == (
        "external",
        "mlflow",
        1,
        2,
    )
    entry = audit.entries(ws.store, subject="credit")[0]
    assert (entry.actor, entry.action) == ("mlflow", "alias.external")
    assert entry.details["mlflow_alias"] == "champion"
    [event] = events.list_events(ws.store, kind="external_change")
    assert (event.subject, event.severity) == ("credit", "warn")
    assert "outside Lookout" in event.message

    mlf.delete_registered_model_alias("credit", "champion")
    assert connector.sync(ws).external_changes == 1
    assert "production" not in registry.aliases(ws.store, "credit")
    assert len(events.list_events(ws.store, kind="external_change")) == 2
    assert audit.verify(ws.store).verified


@pytest.mark.slow
def test_a_lookout_move_during_a_sync_is_not_mistaken_for_an_external_one(
    make_workspace, mlflow_url, monkeypatch
) -> None:
    register(mlflow_url, "race", {"f1": 0.6})
    register(mlflow_url, "race", {"f1": 0.7})
    client(mlflow_url).set_registered_model_alias("race", "champion", "1")
    ws = make_workspace(config(mlflow_url, ["race"]))
    assert connector.sync(ws).ok
    read_model = connector._fetch_model

    def read_then_lookout_promotes(*args):  # type: ignore[no-untyped-def]
        seen = read_model(*args)  # the sync has read champion = v1 ...
        with ws.store.write() as conn:  # ... then a promotion commits v2, as promotion.py does
            connector.set_alias(ws, "race", "production", 2)
            registry.move_alias(conn, "race", "production", 2, kind="promotion", actor="bob")
        return seen

    monkeypatch.setattr(connector, "_fetch_model", read_then_lookout_promotes)
    report = connector.sync(ws)

    assert (report.ok, report.external_changes) == (True, 0)
    assert registry.aliases(ws.store, "race")["production"] == 2
    assert events.list_events(ws.store, kind="external_change") == []
    monkeypatch.undo()
    assert connector.sync(ws).external_changes == 0


@pytest.mark.slow
def test_every_registered_model_is_mirrored_unless_a_local_model_has_its_name(
    make_workspace, mlflow_url
) -> None:
    register(mlflow_url, "reviews", {"f1": 0.5})
    register(mlflow_url, "housing", {"rmse": 3.2})
    ws = make_workspace(
        config(mlflow_url, []) + '[models.ghost]\ntask = "regression"\nsource = "mlflow"\n'
    )
    registry.ensure_model(ws.store, "housing", "regression", "rmse")  # trained by Lookout

    report = connector.sync(ws)

    assert report.ok
    assert registry.get_model(ws.store, "reviews").source == "mlflow"
    assert registry.get_model(ws.store, "housing").source == "local"
    assert registry.list_versions(ws.store, "housing") == []
    assert "housing: a local model has this name; skipped" in report.notes
    assert "ghost: not in MLflow" in report.notes


@pytest.mark.slow
def test_unreachable_mlflow_keeps_the_last_state_marked_stale(
    make_workspace, mlflow_url, monkeypatch, quick_retries
) -> None:
    register(mlflow_url, "spam", {"f1": 0.9})
    client(mlflow_url).set_registered_model_alias("spam", "champion", "1")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_url)  # as MLflow's own tools read it
    ws = make_workspace(config(None, ["spam"]))
    assert connector.sync(ws).ok
    good = connector.last_sync(ws.store)

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    report = connector.sync(ws)

    assert not report.ok
    assert report.error is not None and "unreachable" in report.error
    assert "\n" not in report.error
    assert registry.aliases(ws.store, "spam") == {"production": 1}
    assert [v.version for v in registry.list_versions(ws.store, "spam")] == [1]
    status = connector.last_sync(ws.store)
    assert status.stale and status.error == report.error
    assert status.fetched_at == good.fetched_at
    assert (status.age() or 0) >= 0
    with pytest.raises(connector.MlflowError, match="unreachable"):
        connector.set_alias(ws, "spam", "production", 1)


@pytest.mark.slow
def test_promotion_fails_clearly_when_mlflow_is_down(
    make_workspace, mlflow_url, monkeypatch, quick_retries
) -> None:
    register(mlflow_url, "ads", {"f1": 0.5})
    register(mlflow_url, "ads", {"f1": 0.6})
    client(mlflow_url).set_registered_model_alias("ads", "challenger", "2")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_url)
    ws = make_workspace(config(None, ["ads"]))
    assert connector.sync(ws).ok
    asked = promotion.request_promotion(ws, "ads", 2, "alice", "first production")
    assert asked.request is not None

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(promotion.PromotionError, match="unreachable"):
        promotion.approve(ws, asked.request.id, "bob", "ship it")

    assert "production" not in registry.aliases(ws.store, "ads")
    assert mlflow_alias(mlflow_url, "ads", "champion") is None


# -- degraded and misconfigured (no MLflow needed) ----------------------------------------


def test_slow_server_times_out_with_one_clear_line(make_workspace, quick_retries) -> None:
    with silent_server() as url:
        ws = make_workspace(config(url, []).replace('timeout = "3s"', 'timeout = "200ms"'))
        started = now()
        report = connector.sync(ws)
        took = now() - started

    assert not report.ok
    assert report.error == f"MLflow at {url} did not answer within 0.2s (tried 3 times)"
    assert took < 5
    status = connector.last_sync(ws.store)
    assert status.stale and status.fetched_at is None and status.error == report.error


def test_token_file_readable_by_others_is_refused(make_workspace, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("tok-wide")
    token.chmod(0o644)
    with echo_server() as (url, seen):
        ws = make_workspace(config(url, [], f'token_file = "{token}"'))
        report = connector.sync(ws)

    assert not report.ok
    assert report.error == (f"{token}: readable by others (mode 0644); run chmod 600 {token}")
    assert seen == []  # nothing was sent


def test_token_is_sent_but_never_shown_or_stored(make_workspace, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("tok-9f8e7d\n")
    token.chmod(0o600)
    with echo_server() as (url, seen):
        ws = make_workspace(config(url, [], f'token_file = "{token}"'))
        report = connector.sync(ws)

    assert seen[0]["Authorization"] == "Bearer tok-9f8e7d"
    assert report.error is not None
    assert "HTTP 403" in report.error and "PERMISSION_DENIED" in report.error
    assert "check the [mlflow] credentials" in report.error
    assert "tok-9f8e7d" not in report.error and "***" in report.error
    assert "\x1b" not in report.error
    ws.store.close()
    stored = b"".join(p.read_bytes() for p in ws.config.database.parent.glob("lookout.db*"))
    assert b"tok-9f8e7d" not in stored


def test_basic_credentials_come_from_the_named_variables(make_workspace, monkeypatch) -> None:
    monkeypatch.setenv("MLF_USER", "svc")
    monkeypatch.setenv("MLF_PASS", "pw-1234")
    extra = 'username_env = "MLF_USER"\npassword_env = "MLF_PASS"'
    with echo_server(401) as (url, seen):
        ws = make_workspace(config(url, [], extra))
        report = connector.sync(ws)

    assert seen[0]["Authorization"] == "Basic " + base64.b64encode(b"svc:pw-1234").decode()
    assert report.error is not None and "pw-1234" not in report.error


def test_a_named_token_variable_that_is_unset_is_one_clear_line(
    make_workspace, monkeypatch
) -> None:
    monkeypatch.delenv("MLF_TOKEN_UNSET", raising=False)
    ws = make_workspace(config("http://127.0.0.1:9", [], 'token_env = "MLF_TOKEN_UNSET"'))
    report = connector.sync(ws)
    assert report.error == "environment variable MLF_TOKEN_UNSET (named in [mlflow]) is not set"


def test_without_a_tracking_uri_the_connector_is_off(make_workspace, monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    ws = make_workspace(config(None, []))

    assert not connector.enabled(ws)
    report = connector.sync(ws)
    assert not report.ok and report.error is not None and "tracking_uri" in report.error
    assert connector.last_sync(ws.store) == connector.SyncStatus(None, None, None)
    with pytest.raises(connector.MlflowError, match="not configured"):
        connector.set_alias(ws, "m", "production", 1)


def test_alias_names_map_between_lookout_and_mlflow(make_workspace) -> None:
    ws = make_workspace(
        config("http://127.0.0.1:9", [], 'production_alias = "prod"\ncandidate_alias = "next"')
    )
    assert connector.to_mlflow_alias(ws, "production") == "prod"
    assert connector.to_mlflow_alias(ws, "candidate") == "next"
    assert connector.to_mlflow_alias(ws, "staging") == "staging"
    assert connector.from_mlflow_alias(ws, "prod") == "production"
    assert connector.from_mlflow_alias(ws, "next") == "candidate"
    assert connector.from_mlflow_alias(ws, "staging") == "staging"
    assert connector.from_mlflow_alias(ws, "production") is None  # ambiguous: skipped


def test_no_mlflow_import_at_run_time() -> None:
    import subprocess
    import sys

    code = "import lookout.scheduler.connectors.mlflow, sys; print('mlflow' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ),
    )
    assert out.stdout.strip() == "False"

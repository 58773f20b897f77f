"""The examples an on-call team copies: Prometheus alert rules and a Grafana dashboard that
use only the metrics Lookout serves (tests/test_prometheus.py runs them for real)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests import tools

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ALERTS = EXAMPLES / "prometheus" / "alerts.yml"
DASHBOARD = EXAMPLES / "grafana" / "lookout-dashboard.json"
SUFFIXES = ("_bucket", "_count", "_sum", "_total")


def dashboard_exprs() -> list[str]:
    """Each panel's PromQL with the dashboard's variables set to "everything"."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [
        t["expr"].replace("$dataset", ".*").replace("$model", ".*")
        for p in panels
        for t in p["targets"]
    ]


def served_families(make_workspace, cli) -> set[str]:
    """Every family `lookout metrics` declares, connectors included."""
    ws = make_workspace(
        '[workspace]\nname = "x"\n[mlflow]\ntracking_uri = "http://127.0.0.1:9"\n'
        '[notifications.ops]\nurl = "http://127.0.0.1:9/hook"\n'
    )
    out = cli("metrics", "-w", str(ws.root)).out
    return set(re.findall(r"^# TYPE (\S+) ", out, re.M))


def test_rules_and_dashboard_name_only_served_metrics(make_workspace, cli) -> None:
    families = served_families(make_workspace, cli)
    assert "lookout_connector_sync_age_seconds" in families
    used = set(re.findall(r"lookout_[a-z_]+", ALERTS.read_text() + " ".join(dashboard_exprs())))
    unknown = {
        n
        for n in used
        if n not in families and not any(n == f + s for f in families for s in SUFFIXES)
    }
    assert not unknown, f"not served: {sorted(unknown)}"
    assert {n.removesuffix("_total") for n in used} >= {
        "lookout_check_result",
        "lookout_drift_share",
        "lookout_pipeline_last_run_status",
        "lookout_stage_duration_seconds_bucket",
        "lookout_model_version",
        "lookout_pending_approvals",
        "lookout_open_events",
        "lookout_scheduler_heartbeat_age_seconds",
        "lookout_webhook_deliveries",
        "lookout_connector_sync_age_seconds",
    }


def test_promtool_accepts_the_rules() -> None:
    promtool = tools.need("promtool")
    done = subprocess.run([promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 14 rules found" in done.stdout


def test_dashboard_is_importable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] == "Lookout"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert all(
        p["targets"] and p["datasource"]["uid"] == "${datasource}" for p in dashboard["panels"]
    )

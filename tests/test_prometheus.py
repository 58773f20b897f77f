"""A real Prometheus (Debian's package) scraping a real `lookout scheduler` on loopback."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import pytest
from lookout.scheduler.workspace import open_workspace
from lookout.storage import events

from tests import tools
from tests.test_examples import ALERTS, dashboard_exprs


@pytest.mark.slow
def test_prometheus_sees_the_failing_check_the_drift_and_changes(
    demo_template: Path, tmp_path: Path
) -> None:
    tools.need("prometheus")
    root = tmp_path / "ws"
    shutil.copytree(demo_template, root)
    port = tools.free_port()
    with (root / "lookout.toml").open("a") as f:
        f.write(f'\n[metrics]\nlisten = "127.0.0.1:{port}"\n')

    daemon = [sys.executable, "-m", "lookout.console.cli", "scheduler", "-w", str(root)]
    with tools.process(daemon, tmp_path / "scheduler.log"):
        tools.wait_for(f"http://127.0.0.1:{port}/metrics", time.monotonic() + 60)
        with tools.prometheus(f"127.0.0.1:{port}", tmp_path, rules=ALERTS) as prom:
            deadline = time.monotonic() + 60
            assert prom.value('up{job="lookout"}', deadline) == 1
            assert (
                prom.value(
                    'lookout_check_result{dataset="wine",check="magnesium_present",result="fail"}',
                    deadline,
                )
                == 1
            )
            assert (
                prom.value('lookout_drift_level{model="wine_quality",level="drift"}', deadline) == 1
            )
            assert prom.value('lookout_drift_share{model="wine_quality"}', deadline) > 0.3
            assert (
                prom.value(
                    'lookout_model_version{model="wine_quality",alias="production"}', deadline
                )
                == 1
            )
            assert prom.value("sum(lookout_pending_approvals)", deadline) >= 1
            assert prom.value("lookout_scheduler_up", deadline) == 1
            assert prom.value("lookout_scheduler_heartbeat_age_seconds", deadline) < 10
            stages = prom.value(
                'sum(lookout_stage_duration_seconds_count{pipeline="wine_train"})', deadline
            )
            assert stages > 0

            # Someone acknowledges the failing check's event: the next scrape says so.
            ws = open_workspace(root)
            try:
                [event] = [e for e in events.open_events(ws.store) if e.kind == "check_failed"]
                before = prom.value('sum(lookout_open_events{kind="check_failed"})', deadline)
                events.acknowledge(ws.store, event.id, "alice", "looking")
            finally:
                ws.close()
            while prom.value('sum(lookout_open_events{kind="check_failed"})', deadline) == before:
                assert time.monotonic() < deadline, "the acknowledgement never reached Prometheus"
                time.sleep(0.5)

            # The example rules fire on the demo's troubles (pending: they wait their `for`).
            for alert in ("LookoutCheckFailing", "LookoutModelDrift", "LookoutPipelineFailed"):
                assert prom.value(f'count(ALERTS{{alertname="{alert}"}})', deadline) >= 1
            assert prom.query('ALERTS{alertname="LookoutSchedulerDown"}') == []
            # Every expression of the example dashboard is valid PromQL over these metrics.
            for expr in dashboard_exprs():
                prom.query(expr)  # raises unless Prometheus accepts it

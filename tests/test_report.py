"""The hand-off report on the demo workspace (built by the real parts), on small histories
made for one question each, and its HTML page opened in headless Chromium."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from lookout.scheduler import report, report_html
from lookout.scheduler.workspace import Workspace, open_workspace
from lookout.storage import events, pipelines, registry
from lookout.storage.records import Gate

from tests import tools


@pytest.fixture(scope="module")
def demo_report(demo_template: Path) -> dict:
    from lookout.console.cli import main

    out = demo_template.parent / "report.json"
    assert main(["report", "-w", str(demo_template), "--format", "json", "--out", str(out)]) == 0
    return json.loads(out.read_text())


@pytest.mark.slow
def test_the_demo_shift_in_one_report(demo_report: dict, demo_template: Path) -> None:
    r = demo_report
    assert r["workspace"] == "demo"
    [run] = r["runs"]
    assert (run["pipeline"], run["recovered"]) == ("wine_train", False)
    assert "blocking checks failed: magnesium_present" in run["last_error"]
    [check] = r["checks"]
    assert (check["dataset"], check["check"], check["now"]) == ("wine", "magnesium_present", "fail")
    [episode] = r["drift"]
    assert episode["model"] == "wine_quality" and episode["resolved_at"] is None
    rollback = next(c for c in r["changes"] if c["kind"] == "rollback")
    assert rollback["model"] == "wine_quality" and rollback["reason"]
    assert rollback["detail"] == "v2 → v1 (production)"
    assert [p["model"] for p in r["pending_approvals"]] == ["wine_quality"]
    ws = open_workspace(demo_template, readonly=True)
    try:
        assert r["summary"]["open_events"] == events.count_open(ws.store)
    finally:
        ws.close()
    # History for the charts: the wine checks, both models' drift.
    assert set(r["history"]["checks"]) == {"wine", "diabetes"}
    assert set(r["history"]["drift_share"]) == {"wine_quality", "diabetes_progression"}
    assert len(r["history"]["buckets"]) == report.BUCKETS


@pytest.mark.slow
def test_the_html_report_opens_in_chromium_without_errors(
    demo_template: Path, tmp_path: Path, cli
) -> None:
    page_file = tmp_path / "handoff.html"
    r = cli("report", "-w", str(demo_template), "--format", "html", "--out", str(page_file))
    assert r.code == 0, r.err
    html = page_file.read_text()
    assert "<script" not in html and 'src="http' not in html and "href=" not in html
    page = tools.open_page(
        page_file,
        {
            "title": "document.title",
            "charts": "document.querySelectorAll('figure svg').length",
            "strips": "document.querySelectorAll('td svg').length",
            "sections": "[...document.querySelectorAll('h2')].map(h => h.textContent)",
            "still": "document.body.innerText.includes('still drifting')",
        },
    )
    assert page.errors == []
    assert page.values["title"] == "Hand-off report: demo"
    assert page.values["charts"] == 4  # two datasets' checks, two models' drift
    assert page.values["strips"] == 1  # the one check that failed
    assert page.values["sections"][:3] == ["Failed runs", "Data checks", "Drift"]
    assert page.values["still"] is True
    (tmp_path / "handoff.png").write_bytes(page.screenshot)
    assert page.screenshot.startswith(b"\x89PNG")


def test_markdown_answers_each_question(demo_template: Path, cli) -> None:
    r = cli("report", "-w", str(demo_template))
    assert r.code == 0
    for heading in (
        "## Failed runs",
        "## Checks that did not pass",
        "## Drift episodes",
        "## Promotions, rollbacks and overrides",
        "## Open events (as of now)",
        "## Pending approvals (as of now)",
    ):
        assert heading in r.out
    assert "| wine_train | 1 |" in r.out


def test_a_window_after_the_history_still_shows_what_is_open_now(demo_template: Path) -> None:
    ws = open_workspace(demo_template, readonly=True)
    try:
        rep = report.build(ws, time.time())
    finally:
        ws.close()
    assert rep.runs == [] and rep.checks == [] and rep.changes == []
    assert rep.drift  # the episode that began before the window is not over
    assert rep.open_events and rep.pending


def test_recovery_overrides_and_untrusted_text(make_workspace, cli) -> None:
    ws: Workspace = make_workspace()
    store = ws.store
    bad = pipelines.create_run(store, "etl", [], "manual", "alice")
    pipelines.finish_run(store, bad.id, "failed", "disk full\x1b[2J <script>alert(1)</script>")
    good = pipelines.create_run(store, "etl", [], "manual", "alice")
    pipelines.set_run_status(store, good.id, "running")
    pipelines.finish_run(store, good.id, "succeeded")
    still = pipelines.create_run(store, "train", [], "manual", "alice")
    pipelines.finish_run(store, still.id, "failed", "OOM")
    registry.ensure_model(store, "churn", "classification", "f1")
    v = registry.register_version(store, "churn", metrics={"f1": 0.8})
    with store.write() as conn:
        req = registry.create_request(
            conn, "churn", v.version, "production", "bob", "ship it", [Gate("drift", False, "x")], 1
        )
        registry.add_approval(conn, req.id, "carol", "approve", "| customer deadline |", True)

    out = cli("report", "-w", str(ws.root), "--format", "json")
    r = out.json()
    runs = {x["pipeline"]: x for x in r["runs"]}
    assert runs["etl"]["recovered"] is True and runs["etl"]["recovered_at"]
    assert runs["train"]["recovered"] is False
    assert "\x1b" not in runs["etl"]["last_error"]
    [override] = [c for c in r["changes"] if c["kind"] == "override"]
    assert (override["actor"], override["reason"]) == ("carol", "| customer deadline |")
    assert "approved despite failed gates" in override["detail"]

    md = cli("report", "-w", str(ws.root)).out
    assert "\\| customer deadline \\|" in md  # a pipe in a reason cannot break the table
    html = report_html.render(report.build(ws, 0))
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_bad_since_is_one_line(make_workspace, cli) -> None:
    ws = make_workspace()
    r = cli("report", "-w", str(ws.root), "--since", "yesterday")
    assert r.code == 2 and r.err.count("\n") == 1 and "--since" in r.err
    r = cli("report", "-w", str(ws.root), "--out", "/proc/nope/report.md")
    assert r.code == 2 and r.err.count("\n") == 1 and "cannot write" in r.err


def test_check_activity_counts_what_a_plain_scan_counts(store) -> None:
    import random

    from lookout.storage import checks as stored_checks
    from lookout.storage import history
    from lookout.storage.records import CheckResult

    rnd = random.Random(7)
    rows = []
    for i in range(3000):
        result = rnd.choice(["pass", "pass", "pass", "warn", "fail", "error"])
        rows.append(
            CheckResult(f"d{i % 3}", f"c{i % 5}", "range", "warn", result, at=1000.0 + i * 2)
        )
    stored_checks.insert_history(store, rows)
    since, width, buckets = 1500.0, 300.0, 12  # a window inside the history, cut short at 5100
    expected: dict[tuple[str, str, int, str], int] = {}
    for r in rows:
        if since <= r.at < since + width * buckets:
            key = (r.dataset, r.name, int((r.at - since) // width), r.result)
            expected[key] = expected.get(key, 0) + 1
    got = {
        (a.dataset, a.name, a.bucket, a.result): a.count
        for a in history.check_activity(store, since, width, buckets)
    }
    assert got == expected

"""The command line a user expects (issue 17): help, suggestions, aliases, ids as printed,
JSON errors, whole columns in pipes, --readonly where it means something, drift now,
a workspace with a config and no store, one wording for a move of an alias."""

from __future__ import annotations

import argparse
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lookout.console.cli import build_parser, subcommands
from lookout.scheduler import promotion
from lookout.storage import pipelines

from tests.test_cli import _init
from tests.test_promotion import add_version, toml

LOOKOUT = str(Path(sys.executable).with_name("lookout"))


def test_version(cli) -> None:
    from importlib.metadata import version

    result = cli("--version")
    assert result.code == 0 and result.out == f"lookout {version('lookout-mlops')}\n"


def test_every_subcommand_has_a_description_an_example_and_help_for_each_argument() -> None:
    parser = build_parser()
    for name, sub in subcommands(parser).items():
        assert sub.description and len(sub.description) > 40, name
        assert sub.epilog and f"lookout {name}" in sub.epilog, name
        for action in sub._actions:
            assert action.help and action.help != argparse.SUPPRESS, (name, action.dest)
    for action in parser._actions:
        assert action.help, action.dest


def test_help_is_printed_and_exits_0(cli) -> None:
    for args in (["--help"], ["promote", "--help"], ["completion", "-h"]):
        result = cli(*args)
        assert result.code == 0 and "usage: lookout" in result.out and result.err == ""
    shown = cli("promote", "--help").out
    for words in ("--reason TEXT", "why (kept in the audit)", "VERSION", "examples:"):
        assert words in shown


@pytest.mark.parametrize(
    "args,line",
    [
        (["stauts"], 'lookout: no command "stauts"; did you mean `status`?'),
        (["rollbak", "m"], 'lookout: no command "rollbak"; did you mean `rollback`?'),
        (["xyzzy"], 'lookout: no command "xyzzy" (`lookout --help` lists them)'),
        (["status", "--jsno"], 'lookout status: no option "--jsno"; did you mean `--json`?'),
        (
            ["completion", "bsh"],
            'lookout completion: argument SHELL: no choice "bsh"; did you mean `bash`?',
        ),
        (
            ["status", "--readonly"],
            'lookout status: no option "--readonly" (status changes nothing, so there is'
            " nothing to refuse)",
        ),
        (
            ["models", "--readonly"],
            'lookout models: no option "--readonly" (models changes nothing, so there is nothing to refuse)',
        ),
        (
            ["doctor", "--readonly"],
            'lookout doctor: no option "--readonly" (doctor changes nothing, so there is nothing to refuse)',
        ),
    ],
)
def test_a_mistake_suggests_what_was_meant(cli, args, line) -> None:
    result = cli(*args)
    assert result.code == 2 and result.err == line + "\n"


def test_readonly_refuses_every_change(cli, tmp_path: Path) -> None:
    ws = _init(cli, tmp_path)
    for args in (
        ["--readonly", "scheduler", "--once"],
        ["--readonly", "init", str(tmp_path / "new")],
        ["audit", "--new-key", "--readonly"],
        ["drift", "cancer", "--run", "--readonly"],
        ["checks", "--run", "breast_cancer", "--readonly"],
        ["events", "--ack", "1", "--readonly"],
    ):
        result = cli(*args, "-w", str(ws))
        assert result.code == 2 and "refused in read-only mode" in result.err, args
    assert not (tmp_path / "new").exists()
    # the global flag before a command that changes nothing is the console's, and harmless
    assert cli("--readonly", "models", "-w", str(ws)).code == 0


def test_aliases_are_the_consoles_words(cli, tmp_path: Path) -> None:
    ws = _init(cli, tmp_path)
    for alias, command in (
        ("model", "models"),
        ("check", "checks"),
        ("timeline", "events"),
        ("approvals", "requests"),
    ):
        assert cli(alias, "--json", "-w", str(ws)).out == cli(command, "--json", "-w", str(ws)).out
    assert cli("model", "cancer", "-w", str(ws)).out.startswith("cancer (local, classification")


def test_a_request_id_as_requests_prints_it(make_workspace, cli) -> None:
    ws = make_workspace(toml())
    v = add_version(ws)
    req = promotion.on_version_registered(ws, "m", v.version, "pipeline:train")
    assert req is not None
    listed = cli("requests", "-w", str(ws.root)).out
    assert f"#{req.id}" in listed.splitlines()[1]
    done = cli("approve", f"#{req.id}", "--reason", "ok", "-w", str(ws.root))
    assert done.code == 0, done.err
    # one wording for what an alias pointed at before: "none", never "nothing" or "v-"
    assert done.out.startswith(f"request #{req.id} approved: m production none → v1")
    v2 = add_version(ws)
    moved = cli(
        "promote", "m", str(v2.version), "--alias", "shadow", "--reason", "r", "-w", str(ws.root)
    )
    assert moved.code == 0 and moved.out.startswith("m shadow: none → v2"), moved.out


def test_json_errors_are_json_on_stdout(cli, tmp_path: Path) -> None:
    ws = _init(cli, tmp_path)
    for args, error in (
        (["approve", "#99", "--reason", "r"], "approve: no promotion request #99"),
        (["models", "nope"], "models: no model named 'nope'"),
        (["status", "-w", str(tmp_path / "nowhere")], "no lookout.toml here"),
        (
            ["approve", "x", "--reason", "r"],
            'argument REQUEST: expected an id like #4 or 4, got "x"',
        ),
        (["stauts"], 'no command "stauts"; did you mean `status`?'),
    ):
        result = cli(*args, "--json", "-w", str(ws)) if "-w" not in args else cli(*args, "--json")
        assert result.code == 2, args
        body = result.json()
        assert body["ok"] is False and body["exit"] == 2 and error in body["error"], body
        assert body["message"] == body["error"]
        assert result.err.count("\n") == 1 and error in result.err


def _long_run(ws: Path) -> None:
    """A run whose stages make the STAGES column ~200 characters wide."""
    from lookout.storage.db import Store

    store = Store(ws / "lookout.db")
    stages = [f"stage_number_{i:02d}" for i in range(12)]
    pipelines.create_run(store, "cancer_train", stages, "manual", "me")
    store.close()


def test_tables_are_whole_in_a_pipe_and_fit_a_terminal_unless_wide(cli, tmp_path: Path) -> None:
    ws = _init(cli, tmp_path)
    _long_run(ws)
    piped = cli("status", "-w", str(ws)).out
    assert "stage_number_11:pending" in piped  # in-process stdout is not a terminal

    def on_terminal(*args: str) -> list[str]:
        main, child = pty.openpty()
        env = {**os.environ, "COLUMNS": "80", "LINES": "24"}
        proc = subprocess.run(
            [LOOKOUT, "status", "-w", str(ws), *args], stdout=child, stderr=subprocess.PIPE, env=env
        )
        os.close(child)
        out = b""
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        os.close(main)
        assert proc.returncode in (0, 1), proc.stderr
        return out.decode().replace("\r\n", "\n").splitlines()

    fitted = on_terminal()
    table = [line for line in fitted if line.startswith(("PIPELINE", "cancer_train"))]
    assert table and all(len(line) <= 80 for line in table), table
    assert "…" in table[1] and "stage_number_11" not in table[1]
    wide = on_terminal("--wide")
    assert any("stage_number_11:pending" in line for line in wide)


def test_drift_now(make_workspace, cli, tmp_path: Path) -> None:
    from lookout.console.showcase import seed
    from lookout.storage.identity import current_user

    root = tmp_path / "seeded"
    seed(root, current_user()).close()
    before = cli("drift", "churn", "--json", "-w", str(root)).json()["models"][0]["at"]
    now = cli("drift", "churn", "--run", "--json", "-w", str(root))
    assert now.code in (0, 1), now.err
    after = now.json()["models"][0]
    assert after["at"] != before and after["level"] in ("ok", "warn", "drift")
    missing = cli("drift", "--run", "-w", str(root))
    assert missing.code == 2 and "name the MODEL" in missing.err
    unknown = cli("drift", "nope", "--run", "-w", str(root))
    assert unknown.code == 2 and 'no model named "nope"' in unknown.err


def test_log_says_when_drift_follows(cli, tmp_path: Path) -> None:
    ws = _init(cli, tmp_path)
    batch = tmp_path / "batch.csv"
    batch.write_text("mean radius,mean texture\n14.1,19.2\n13.0,21.8\n")
    result = cli("log", "cancer", str(batch), "-w", str(ws))
    assert result.code == 0, result.err
    assert result.out.splitlines()[-1] == (
        "drift: the scheduler computes it on its schedule (1m);"
        " `lookout drift cancer --run` computes it now"
    )


def test_a_config_without_a_store_is_not_a_dead_end(cli, tmp_path: Path) -> None:
    ws = _init(cli, tmp_path)
    hand_written = tmp_path / "copy"
    hand_written.mkdir()
    (hand_written / "lookout.toml").write_text((ws / "lookout.toml").read_text())
    result = cli("status", "-w", str(hand_written))
    assert result.code == 1 and "never run" in result.out, result.err  # 1: no scheduler
    assert (hand_written / "lookout.db").is_file()
    again = cli("init", str(hand_written))
    assert again.code == 2 and "`lookout status -w" in again.err


def test_status_exits_1_when_nothing_would_run_the_schedule(cli, tmp_path: Path) -> None:
    ws = _init(cli, tmp_path)
    text = cli("status", "-w", str(ws))
    assert text.code == 1
    assert text.out.splitlines()[0] == "scheduler: ○ not running"
    assert "✗ scheduler: not running, so nothing scheduled happens" in text.out
    # a workspace that schedules nothing needs no scheduler
    quiet = tmp_path / "quiet"
    quiet.mkdir()
    (quiet / "lookout.toml").write_text('[workspace]\nname = "q"\n')
    result = cli("status", "--json", "-w", str(quiet))
    assert result.code == 0 and result.json()["problems"] == []
    # a pipeline started by new files needs the scheduler to notice them
    (quiet / "lookout.toml").write_text(
        '[workspace]\nname = "q"\n[pipelines.p]\nkind = "custom"\n'
        '[pipelines.p.triggers]\nfiles = "incoming/*.csv"\n'
        '[[pipelines.p.stages]]\nname = "a"\ncall = "st:go"\n'
    )
    result = cli("status", "--json", "-w", str(quiet))
    assert result.code == 1, result.err
    assert result.json()["scheduler"]["scheduled"] == ["file trigger of p"]


def test_drift_problem_wording(cli, tmp_path: Path) -> None:
    from lookout.console.commands.status import problems

    status: dict[str, Any] = {
        "scheduler": {"alive": True, "scheduled": []},
        "pipelines": [],
        "checks": {"fail": 0, "error": 0},
        "drift": [{"model": "wine", "level": "drift"}, {"model": "beer", "level": "error"}],
        "serving": [],
        "critical": [],
    }
    assert problems(status) == [
        "model wine: has drifted",
        "model beer: drift could not be computed",
    ]


def test_the_starter_config_says_where_its_data_comes_from(cli, tmp_path: Path) -> None:
    """Its comment once promised a CSV written "on first run" that never was."""
    text = (_init(cli, tmp_path) / "lookout.toml").read_text()
    assert "# The example dataset is scikit-learn's breast-cancer table." in text
    assert 'source = "lookout.scheduler.examples:breast_cancer"' in text
    assert ".csv" not in text and "first run" not in text

"""Bad input that used to end in a traceback: one line on stderr, exit 2 (issue 17).

Each case is a config, a store path or an argument a careful user (or a fuzzer)
tried; the line must say what is wrong and where, and stay short whatever was echoed.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest
from lookout.console.cli import build_parser, subcommands
from lookout.scheduler import door
from lookout.scheduler.door import Actor, Local
from lookout.storage.db import Store, StoreError

from tests.conftest import CliResult

HUGE = str(2**63)  # one more than SQLite's largest integer


def one_line(result: CliResult, code: int = 2) -> str:
    assert result.code == code, (result.code, result.err)
    assert result.err.count("\n") == 1 and "Traceback" not in result.err, result.err
    assert result.err.startswith("lookout") and len(result.err) <= 301
    return result.err.strip()


def config(tmp_path: Path, text: str, name: str = "ws") -> Path:
    root = tmp_path / name
    root.mkdir()
    (root / "lookout.toml").write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize(
    "text",
    [
        "x = " + "[" * 3000 + "]" * 3000,
        "x = " + "{a = " * 3000 + "1" + "}" * 3000,
        "[pipelines.p]\nparams = { a = " + "[" * 2000 + "]" * 2000 + " }",
    ],
    ids=["arrays", "inline-tables", "in-a-free-table"],
)
def test_deeply_nested_toml_is_one_line(cli, tmp_path: Path, text: str) -> None:
    root = config(tmp_path, text)
    line = one_line(cli("status", "-w", str(root)))
    assert line.endswith("not valid TOML: arrays or tables nested too deeply")


def test_a_nul_in_a_path_is_named(cli, tmp_path: Path) -> None:
    root = config(tmp_path, '[workspace]\ndatabase = "a\\u0000b"\n')
    for args in (["status"], ["run", "p"], ["checks"]):
        line = one_line(cli(*args, "-w", str(root)))
        assert line.endswith(
            'workspace.database: expected a path, got "a\\x00b" (it holds a NUL character)'
        )


@pytest.mark.parametrize("command", [["status"], ["run", "p"], ["models", "--json"]])
def test_a_store_path_that_is_not_a_lookout_store(cli, tmp_path: Path, command) -> None:
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a database, just notes\n" * 100)
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    cases = {
        "/dev/null": "it is a character device",
        str(tmp_path): "it is a directory",
        str(fifo): "it is a FIFO",  # SQLite would wait forever for a writer
        str(text_file): "file is not a database",
    }
    for i, (path, why) in enumerate(cases.items()):
        root = config(tmp_path, f'[workspace]\ndatabase = "{path}"\n', f"ws{i}")
        line = one_line(cli(*command, "-w", str(root)))
        assert line == f"lookout: {path}: not a Lookout store ({why})"
    # an empty file is a SQLite database, but not one Lookout made: reading says so
    if command == ["status"]:
        root = config(tmp_path, f'[workspace]\ndatabase = "{empty}"\n', "empty")
        assert one_line(cli("status", "-w", str(root))).endswith(
            "not a Lookout store (it has no Lookout tables)"
        )


def test_a_store_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="cannot create the store"):
        Store(blocker / "sub" / "lookout.db")


def _integer_arguments() -> list[tuple[list[str], str]]:
    """Every integer argument of every subcommand: (the words before it, its option or
    its place), found in the parser so that a new one is covered as it is added."""
    found = []
    for name, sub in subcommands(build_parser()).items():
        if sub.get_default("command") != name:
            continue  # an alias
        for a in sub._actions:
            if a.type is None or a.type in (str, float) or isinstance(a, argparse._HelpAction):
                continue
            if getattr(a.type, "__name__", "") == "positive":
                continue
            found.append(([name], a.option_strings[0] if a.option_strings else a.dest))
    return found


INTEGER_ARGUMENTS = _integer_arguments()


def test_the_parser_has_the_integer_arguments_issue_17_names() -> None:
    names = {(words[0], where) for words, where in INTEGER_ARGUMENTS}
    assert {
        ("approve", "request"),
        ("reject", "request"),
        ("promote", "version"),
        ("rollback", "--to"),
        ("events", "--limit"),
        ("events", "--ack"),
        ("audit", "--limit"),
    } <= names


@pytest.mark.parametrize(
    "words,where", INTEGER_ARGUMENTS, ids=[f"{w[0]} {x}" for w, x in INTEGER_ARGUMENTS]
)
@pytest.mark.parametrize("value", [HUGE, "-" + HUGE, "99999999999999999999999", "0", "1.5"])
def test_integers_out_of_range_are_one_line(cli, tmp_path: Path, words, where, value) -> None:
    command = words[0]
    required = {
        "promote": ["m", "1", "--reason", "r"],
        "approve": ["1", "--reason", "r"],
        "reject": ["1", "--reason", "r"],
        "rollback": ["m", "--reason", "r"],
    }.get(command, [])
    args = list(required)
    if where.startswith("-"):
        args += [where, value]
    elif where == "version":
        args[1] = value
    else:
        args[0] = value
    line = one_line(cli(command, *args, "-w", str(tmp_path)))
    assert "expected" in line and "got" in line


def test_the_door_refuses_integers_sqlite_cannot_hold(make_workspace) -> None:
    """The SDK and the daemon's socket reach the door without the parser."""
    ws = make_workspace()
    me = Local(ws, Actor("alice", None))
    for action, args in (
        ("approve", {"request": 2**63, "reason": "r"}),
        ("acknowledge", {"event": 2**63}),
        ("promote", {"model": "m", "version": 2**64, "reason": "r"}),
    ):
        outcome = me.perform(action, **args)
        assert not outcome.ok and outcome.data["error"] == door.INVALID, outcome
        assert "of at most 64 bits" in outcome.message


def test_screenshots_into_a_folder_that_cannot_exist(cli) -> None:
    line = one_line(cli("screenshots", "--out", "/proc/nope"))
    assert line == "lookout: --out /proc/nope: cannot make the folder: No such file or directory"


def test_a_huge_value_is_echoed_cut(cli, tmp_path: Path) -> None:
    ten_mb = "x" * 10_000_000
    for text in (
        f'[workspace]\nrefresh = "{ten_mb}"\n',
        f'[workspace]\nname = "n"\n[models.m]\ntask = "{ten_mb}"\n',
        f'[pipelines."{ten_mb}"]\nkind = "custom"\n',  # a key, not a value
        f'[pipelines.p]\ndataset = "{ten_mb}"\n',
    ):
        root = config(tmp_path, text, f"ws{len(list(tmp_path.iterdir()))}")
        line = one_line(cli("status", "-w", str(root)))
        assert "xxxx…" in line, line
    valid = config(tmp_path, '[workspace]\nname = "t"\n', "valid")
    line = one_line(cli("models", "y" * 1_000_000, "-w", str(valid)))
    assert line.endswith("yyyy…")  # the whole line is cut, at ERROR_LINE characters


@pytest.mark.parametrize("port", ["9" * 5000, "²", "99999"])
def test_a_listen_port_that_is_no_port(cli, tmp_path: Path, port: str) -> None:
    """int() refuses strings of more than 4300 digits, and "²" passes str.isdigit()."""
    root = config(tmp_path, f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
    line = one_line(cli("status", "-w", str(root)))
    assert 'metrics.listen: expected HOST:PORT like "127.0.0.1:9464", got "127.0.0.1:' in line
    assert line.endswith('9999…"') if len(port) > 80 else line.endswith(f':{port}"')


def test_integer_literals_beyond_a_float_are_refused_by_the_config(cli, tmp_path: Path) -> None:
    big = "9" * 400
    for i, text in enumerate(
        (
            f"[policy]\nmetric_tolerance = {big}\n",
            f"[scheduler]\nheartbeat = {big}\n",
            f'[scheduler]\nmin_free = "{big}MB"\n',
            f"[scheduler]\nmin_free = {big}\n",
            f"[models.m]\ntask = 'regression'\ntarget = 'y'\n[models.m.drift]\nwindow_rows = {big}\n",
        )
    ):
        root = config(tmp_path, text, f"ws{i}")
        line = one_line(cli("status", "-w", str(root)))
        assert "expected" in line and "99999…" in line, line


def test_reading_a_store_an_older_lookout_wrote(cli, tmp_path: Path) -> None:
    """`status` right after upgrading Lookout: the reads need the newest tables."""
    import sqlite3

    from lookout.storage.db import migrate

    root = config(tmp_path, '[workspace]\nname = "t"\n')
    conn = sqlite3.connect(root / "lookout.db", isolation_level=None)
    migrate(conn, root / "lookout.db", target=2)
    conn.close()
    for command in (["status"], ["search", "anything"], ["report"]):
        result = cli(*command, "-w", str(root))
        assert result.code == 0, (command, result.err)  # a personal store is upgraded


def test_reading_a_shared_store_an_older_lookout_wrote(cli, tmp_path: Path) -> None:
    """Only the daemon writes a shared store, so only the daemon upgrades it."""
    import grp
    import pwd
    import sqlite3

    from lookout.storage.db import migrate
    from lookout.storage.schema import SCHEMA_VERSION

    me, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    root = config(
        tmp_path,
        f'[workspace]\nmode = "shared"\nservice_user = "{me}"\ngroup = "{group}"\n',
    )
    conn = sqlite3.connect(root / "lookout.db", isolation_level=None)
    migrate(conn, root / "lookout.db", target=2)
    conn.close()
    line = one_line(cli("status", "-w", str(root)))
    assert line.endswith(
        f"store has schema version 2, this Lookout needs {SCHEMA_VERSION};"
        " the daemon upgrades it when it restarts"
    )

"""Fuzzing the command line: generated configs and argument lists never end in a traceback.

Whatever the config or the arguments, `lookout` exits 0, 1 or 2 and says what went
wrong in at most one line of at most 300 characters on stderr; the catch-all for
bugs ("unexpected error") must never be reached. The examples are derandomized so
`make test` is repeatable; LOOKOUT_FUZZ=N runs N examples per test instead.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lookout.console.cli import build_parser, main, subcommands

EXAMPLES = int(os.environ.get("LOOKOUT_FUZZ", "0"))
FUZZ = settings(
    max_examples=EXAMPLES or 60,
    deadline=None,
    derandomize=not EXAMPLES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
LOOKOUT = str(Path(sys.executable).with_name("lookout"))
# commands that run for long or forever by design; they are tested elsewhere
SLOW = {"demo", "scheduler", "screenshots", "--wait", "--help", "-h"}


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def check(code: int, out: str, err: str, argv: Any) -> None:
    assert code in (0, 1, 2), (argv, code, err)
    lines = err.splitlines()
    assert len(lines) <= 1 and "Traceback" not in err, (argv, err)
    assert not lines or len(lines[0]) <= 300, (argv, len(lines[0]))
    assert "unexpected error" not in err, (argv, err)
    if code == 2:
        assert len(lines) == 1, (argv, out, err)


# -- configs ----------------------------------------------------------------------------

KEYS = [
    "workspace", "name", "database", "artifacts", "mode", "refresh", "code", "path",
    "scheduler", "heartbeat", "lease", "policy", "four_eyes", "approvals_required",
    "metric_tolerance", "roles", "operator", "datasets", "source", "checks", "type",
    "models", "task", "target", "drift", "schedule", "window_rows", "pipelines", "model",
    "dataset", "estimator", "params", "stages", "call", "triggers", "audit", "witness",
    "notifications", "url", "events", "mlflow", "metrics", "listen", "max_features",
    "retention", "raw_rows", "min_free", "x" * 500, "",
]  # fmt: skip
text = st.text(st.characters(codec="utf-8"), max_size=30) | st.sampled_from(
    ["", "\x00", "/dev/null", "/proc/nope", "lookout.db", "1m", "99999999999999999999d",
     "*/5 * * * *", "99 * * * *", "x" * 5000, "\x1b]52;c;AAAA\x07", "a:b", "..", "/",
     "h:" + "9" * 5000, "h:²", "9" * 400 + "MB"]
)  # fmt: skip
scalars = (
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([2**63, -(2**63) - 1, 10**400, 0, -1])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.booleans()
    | text
)


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return (
            "nan" if v != v else "inf" if v == float("inf") else "-inf" if v < -1e308 else repr(v)
        )
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)  # JSON's escapes are TOML's (lone surrogates make it invalid)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + "}"


values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)
    ),
    max_leaves=8,
)
sections = st.dictionaries(
    st.sampled_from(KEYS),
    st.dictionaries(st.sampled_from(KEYS), values, max_size=5)
    | st.dictionaries(
        st.sampled_from(KEYS),
        st.dictionaries(st.sampled_from(KEYS), values, max_size=4),
        max_size=2,
    ),
    max_size=5,
)


def render(config: dict[str, Any]) -> str:
    lines = []
    for section, body in config.items():
        lines.append(f"[{json.dumps(section)}]")
        lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in body.items()]
    return "\n".join(lines) + "\n"


configs = sections.map(render) | st.sampled_from(
    [
        "x = " + "[" * 2000 + "]" * 2000,
        "[workspace\nname = 1",
        '[workspace]\ndatabase = "\\u0000"',
        "\udcff",
        "[models.m]\ntask = 'classification'\ntarget = 'y'\n[pipelines.p]\nmodel = 'm'",
    ]
)


@FUZZ
@given(config=configs)
def test_generated_configs(config: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "lookout.toml").write_text(config, encoding="utf-8", errors="surrogateescape")
        for argv in (["status"], ["models", "--json"], ["checks"], ["run", "p"]):
            argv = [*argv, "-w", tmp]
            check(*run(argv), argv)


# -- argument lists ---------------------------------------------------------------------


def _words() -> tuple[list[str], list[str]]:
    parser = build_parser()
    commands = [c for c in subcommands(parser) if c not in SLOW]
    options = sorted(
        {o for sub in subcommands(parser).values() for a in sub._actions for o in a.option_strings}
        - SLOW
    )
    return commands, options


COMMANDS, OPTIONS = _words()
tokens = (
    st.sampled_from(OPTIONS)
    | st.sampled_from(COMMANDS)
    | st.sampled_from(
        [
            str(2**63),
            str(-(2**63)),
            "#4",
            "#",
            "#-1",
            "0",
            "-1",
            "1e999",
            "nan",
            "1",
            "cancer",
            "breast_cancer",
            "cancer_train",
            "/dev/null",
            "/proc/nope",
            "",
            "--",
            "-",
            "bash",
            "x" * 3000,
            "\x1b[2J",
            "#" + "9" * 30,
        ]
    )  # fmt: skip
    | st.text(st.characters(codec="utf-8"), max_size=12)
).filter(lambda t: t not in SLOW)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz") / "w"
    code, _, err = run(["init", str(root)])
    assert code == 0, err
    return root


@FUZZ
@given(argv=st.tuples(st.sampled_from(COMMANDS), st.lists(tokens, max_size=6)))
def test_generated_argument_lists(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, argv: tuple[str, list[str]]
) -> None:
    monkeypatch.setenv("LOOKOUT_WORKSPACE", str(workspace))
    words = [argv[0], *argv[1]]
    if words[0] == "init":  # never into the shared workspace's folder
        words = [*words, str(workspace / "new")]
    check(*run(words), words)


@pytest.mark.parametrize(
    "argv",
    [
        [b"models", b"\xff\xfe"],  # argv that is not UTF-8
        [b"approve", str(2**63).encode(), b"--reason", b"r"],
        [b"stauts"],
        [b"events", b"--limit", b"9" * 40, b"--json"],
    ],
    ids=["not-utf8", "huge-id", "typo", "huge-limit-json"],
)
def test_the_installed_command(workspace: Path, argv: list[bytes]) -> None:
    env = {**os.environ, "LOOKOUT_WORKSPACE": str(workspace)}
    done = subprocess.run([LOOKOUT, *argv], capture_output=True, env=env)
    out, err = done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
    check(done.returncode, out, err, argv)
    assert done.returncode == 2

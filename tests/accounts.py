"""Real OS accounts for tests of who may do what on a shared ops host.

CI runs as root: a session creates a group and a handful of accounts (a service account
that runs the daemon, people with each role), runs `lookout` as each of them in child
processes that drop privileges, and removes them afterwards. Without root the tests that
need this skip with the reason printed; in CI (`CI=true`) they fail instead, so they can
never be skipped silently where they are meant to run.

Other accounts cannot run the Python of the test venv (it lives in root's home, mode
0700), so they use `.venv-os`: a venv made by the Makefile from Debian's own
`/usr/bin/python3.11` with Lookout installed in it.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OS_VENV = ROOT / ".venv-os"
# account role -> the name suffix; "svc" runs the daemon and owns the workspace
PEOPLE = ("svc", "alice", "bob", "carol", "dave", "erin")


def need_root(why: str) -> None:
    """Skip (or, in CI, fail) a test that needs root for `why`."""
    if os.geteuid() == 0:
        return
    message = f"needs root to {why} (run the suite as root, as CI does)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def os_python() -> Path:
    """The interpreter every account can run, or a skip/fail saying how to make it."""
    python = OS_VENV / "bin" / "python"
    if not python.exists():
        message = f"{python} is missing: `make .venv-os/.installed` builds it"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return python


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    home: Path


@dataclass
class Team:
    """A group and its members; `accounts["svc"]` is the service account."""

    group: str
    gid: int
    accounts: dict[str, Account]
    base: Path  # a directory every member can traverse, for workspaces and witness files

    def __getitem__(self, role: str) -> Account:
        return self.accounts[role]

    def run(
        self,
        who: str,
        args: Sequence[str | os.PathLike[str]],
        *,
        cwd: Path | None = None,
        input: str | None = None,
        timeout: float = 120,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command as one member, with their groups and a clean environment."""
        return subprocess.run(
            [str(a) for a in args],
            **as_user(self[who], self.gid if who != "outsider" else None),
            env=clean_env(self[who], env),
            cwd=cwd or self.base,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def lookout(
        self, who: str, *args: str | os.PathLike[str], **kw: object
    ) -> subprocess.CompletedProcess[str]:
        return self.run(who, [OS_VENV / "bin" / "lookout", *args], **kw)  # type: ignore[arg-type]

    def popen(
        self, who: str, args: Sequence[str | os.PathLike[str]], output: Path, ready: str = ""
    ) -> tuple[subprocess.Popen[str], threading.Event]:
        """Start a long-running process (the daemon) as a member, in its own session. Its
        stdout and stderr are copied to `output` line by line; the event is set when a
        line holds `ready`, or when the process ends, so a test waits on what the process
        says rather than looking again and again. Its stdin is a pipe the test may write to."""
        proc = subprocess.Popen(
            [str(a) for a in args],
            **as_user(self[who], self.gid),
            env=clean_env(self[who], None),
            cwd=self.base,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        said = threading.Event()

        def copy() -> None:
            assert proc.stdout is not None
            with open(output, "a") as sink:
                for line in proc.stdout:
                    sink.write(line)
                    sink.flush()
                    if ready and ready in line:
                        said.set()
            said.set()

        threading.Thread(target=copy, name=f"output of {args[0]}", daemon=True).start()
        return proc, said


def as_user(account: Account, team_gid: int | None) -> dict[str, object]:
    """subprocess arguments that drop to the account (and the team's group) in the child."""
    extra = [team_gid] if team_gid is not None else []
    return {"user": account.uid, "group": account.gid, "extra_groups": extra, "umask": 0o022}


def clean_env(account: Account, extra: dict[str, str] | None) -> dict[str, str]:
    env = {
        "HOME": str(account.home),
        "USER": account.name,
        "LOGNAME": account.name,
        "PATH": f"{OS_VENV / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "XDG_STATE_HOME": str(account.home / ".local" / "state"),
        "XDG_CONFIG_HOME": str(account.home / ".config"),
    }
    env.update(extra or {})
    return env


def _sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, text=True)


@contextlib.contextmanager
def team() -> Iterator[Team]:
    """Create the group and accounts (unique names per run), remove them afterwards."""
    tag = secrets.token_hex(3)
    group = f"lkteam{tag}"
    base = Path(tempfile.mkdtemp(prefix=f"lookout-team-{tag}-"))
    base.chmod(0o755)
    created: list[str] = []
    try:
        _sh("groupadd", group)
        gid = grp.getgrnam(group).gr_gid
        accounts = {}
        for role in (*PEOPLE, "outsider"):
            name = f"lk{role}{tag}"
            home = base / "home" / name
            home.parent.mkdir(exist_ok=True)
            home.parent.chmod(0o755)
            _sh("useradd", "--create-home", "--home-dir", str(home), "--shell", "/bin/sh", name)
            created.append(name)
            if role != "outsider":
                _sh("usermod", "--append", "--groups", group, name)
            pw = pwd.getpwnam(name)
            accounts[role] = Account(name, pw.pw_uid, pw.pw_gid, home)
        yield Team(group, gid, accounts, base)
    finally:
        for name in created:
            subprocess.run(["userdel", "--remove", name], capture_output=True)
        subprocess.run(["groupdel", group], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)

"""The accounts the shared-host tests use are real and really separate."""

from __future__ import annotations

from typing import Any


def test_each_member_runs_lookout_as_themselves(team: Any) -> None:
    for who in ("svc", "alice", "dave", "outsider"):
        done = team.run(
            who, ["python", "-c", "import os, pwd; print(pwd.getpwuid(os.getuid()).pw_name)"]
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == team[who].name
    version = team.lookout("alice", "--help")
    assert version.returncode == 0, version.stderr


def test_members_share_the_group_and_the_outsider_does_not(team: Any) -> None:
    code = (
        "import os, grp; print(' '.join(sorted(grp.getgrgid(g).gr_name for g in os.getgroups())))"
    )
    assert team.group in team.run("bob", ["python", "-c", code]).stdout.split()
    assert team.group not in team.run("outsider", ["python", "-c", code]).stdout.split()

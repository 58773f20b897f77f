"""The signed and witnessed audit record, attacked for real on the store file.

Each attack is what a person who can write the SQLite file (but not the workspace's
private key or the witness) can do: drop the triggers, edit, add or delete rows,
recompute every sha256 link, even sign with a key of their own. `lookout audit
--verify` must name the first bad entry or count the missing ones, and the writer
must refuse to sign on top of a record that does not hold.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from lookout.scheduler import config as config_mod
from lookout.scheduler import signing
from lookout.scheduler.config import ConfigError
from lookout.scheduler.workspace import open_workspace
from lookout.storage import audit
from lookout.storage.db import Store, StoreError, migrate
from lookout.storage.records import AuditVerification

ENTRIES = 40  # audited changes; with the key entry the record holds 41


@dataclass
class Record:
    """A workspace with a signed record of 41 entries and a witness outside it."""

    root: Path
    witness: Path

    @property
    def db(self) -> Path:
        return self.root / "lookout.db"

    def append(self, n: int = 1) -> None:
        ws = open_workspace(self.root)
        try:
            for i in range(n):
                with ws.store.write() as conn:
                    audit.append(conn, "alice", "promote", f"churn:{i}", "better f1", {"v": i})
        finally:
            ws.close()

    def witnessed_seq(self) -> int:
        head = signing.read_witness(self.witness)
        assert head is not None
        return head.seq


def config(witness: Path | None) -> str:
    text = '[workspace]\nname = "audited"\n'
    if witness is not None:
        text += f'[audit]\nwitness = "{witness}"\n'
    return text


@pytest.fixture
def record(tmp_path: Path) -> Record:
    root = tmp_path / "ws"
    root.mkdir()
    witness = tmp_path / "witness" / "audit.log"
    witness.parent.mkdir()
    (root / "lookout.toml").write_text(config(witness))
    r = Record(root, witness)
    r.append(ENTRIES)
    return r


@pytest.fixture
def verify(cli: Callable[..., object]) -> Callable[..., tuple[int, dict[str, object]]]:
    def run(r: Record, *extra: str) -> tuple[int, dict[str, object]]:
        done = cli("audit", "-w", str(r.root), "--verify", "--json", "--limit", "1", *extra)
        return done.code, done.json()  # type: ignore[attr-defined]

    return run


@pytest.fixture
def attacker(record: Record) -> Iterator[sqlite3.Connection]:
    """A plain connection to the store file, triggers dropped: what write access allows."""
    conn = sqlite3.connect(record.db, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("DROP TRIGGER audit_no_delete")
    yield conn
    conn.close()


def rechain(conn: sqlite3.Connection, start: int = 1) -> None:
    """Recompute every hash from `start` on, as a forger would (signatures stay as stored)."""
    rows = conn.execute("SELECT * FROM audit WHERE seq >= ? ORDER BY seq", (start,)).fetchall()
    before = conn.execute(
        "SELECT hash, signature FROM audit WHERE seq = ?", (start - 1,)
    ).fetchone()
    prev, prev_sig = (before[0], before[1] or "") if before else (audit.GENESIS, "")
    for row in rows:
        digest = audit.entry_hash(
            prev,
            row["seq"],
            row["at"],
            row["actor"],
            row["action"],
            row["subject"],
            row["reason"],
            json.loads(row["details_json"]),
            prev_sig,
        )
        conn.execute(
            "UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, digest, row["seq"])
        )
        sig = conn.execute("SELECT signature FROM audit WHERE seq = ?", (row["seq"],)).fetchone()[0]
        prev, prev_sig = digest, sig or ""


def resign(conn: sqlite3.Connection, key: Ed25519PrivateKey) -> None:
    """Rewrite the whole record signed by `key`: hashes and signatures, key entry included."""
    fp = signing.fingerprint(key.public_key())
    conn.execute(
        "UPDATE audit SET subject = ?, details_json = ? WHERE action = 'key'",
        (fp[:16], json.dumps({"fingerprint": fp})),
    )
    prev, prev_sig = audit.GENESIS, ""
    for row in conn.execute("SELECT * FROM audit ORDER BY seq").fetchall():
        digest = audit.entry_hash(
            prev,
            row["seq"],
            row["at"],
            row["actor"],
            row["action"],
            row["subject"],
            row["reason"],
            json.loads(row["details_json"]),
            prev_sig,
        )
        sig = base64.b64encode(key.sign(audit.message(digest))).decode()
        conn.execute(
            "UPDATE audit SET prev_hash = ?, hash = ?, signature = ? WHERE seq = ?",
            (prev, digest, sig, row["seq"]),
        )
        prev, prev_sig = digest, sig


def public_key_line(key: Ed25519PrivateKey) -> str:
    raw = signing._raw(key.public_key())
    return f"ed25519 {base64.b64encode(raw).decode()}\n"


# -- the record as written ------------------------------------------------------------


def test_an_untouched_record_verifies_with_one_signature_check(record: Record, verify) -> None:
    code, body = verify(record)
    assert code == 0, body
    assert body["verified"] is True and body["first_bad"] is None
    assert (body["signed"], body["legacy"], body["missing"]) == (ENTRIES + 1, 0, 0)
    assert body["signatures_checked"] == 1
    assert body["witness"] == {
        "path": str(record.witness),
        "seq": ENTRIES + 1,
        "hash": body["witness"]["hash"],  # type: ignore[index]
        "reached": True,
    }
    entry = body["entries"][0]  # type: ignore[index]
    assert entry["seq"] == ENTRIES + 1 and entry["signature"]

    code, full = verify(record, "--full")
    assert code == 0 and full["signatures_checked"] == ENTRIES + 1


def test_the_record_starts_with_the_key_that_signs_it(record: Record) -> None:
    ws = open_workspace(record.root, readonly=True)
    first = audit.entries(ws.store)[-1]
    ws.close()
    keys = signing.public_keys(config_mod.load(record.root))
    assert (first.seq, first.action, first.actor) == (1, "key", "lookout")
    assert first.details == {"fingerprint": keys.fingerprints[0]}


def test_key_and_public_key_files_have_narrow_modes(record: Record) -> None:
    key = record.root / "keys" / "audit.key"
    assert key.parent.stat().st_mode & 0o777 == 0o700
    assert key.stat().st_mode & 0o777 == 0o600
    assert (record.root / "audit.pub").stat().st_mode & 0o777 == 0o644


def test_the_witness_gets_one_line_per_head(record: Record) -> None:
    lines = record.witness.read_text().splitlines()
    # The first change writes the key entry and its own entry in one transaction.
    assert [json.loads(line)["seq"] for line in lines] == list(range(2, ENTRIES + 2))


# -- forgeries ----------------------------------------------------------------------


def test_an_edited_entry_with_the_whole_chain_recomputed_is_named(
    record: Record, attacker: sqlite3.Connection, verify
) -> None:
    attacker.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 12")
    rechain(attacker, 12)

    for extra in ((), ("--full",)):
        code, body = verify(record, *extra)
        assert code == 1 and body["verified"] is False
        assert body["first_bad"] == 12
        assert body["problem"] == (
            "entry 12 was altered or forged: it is not signed by the workspace key"
        )


def test_an_edit_without_recomputing_breaks_its_link(
    record: Record, attacker: sqlite3.Connection, verify
) -> None:
    attacker.execute("UPDATE audit SET reason = 'nothing to see' WHERE seq = 12")
    code, body = verify(record)
    assert code == 1 and (body["first_bad"], body["problem"]) == (12, "entry 12 was altered")


def _forge(conn: sqlite3.Connection, key: Ed25519PrivateKey | None) -> None:
    last = conn.execute("SELECT * FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    seq = last["seq"] + 1
    digest = audit.entry_hash(
        last["hash"], seq, last["at"] + 1, "bob", "approve", "churn:9", "ok", {}, last["signature"]
    )
    sig = base64.b64encode(key.sign(audit.message(digest))).decode() if key else None
    conn.execute(
        "INSERT INTO audit (seq, at, actor, action, subject, reason, details_json, prev_hash,"
        " hash, signature) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (seq, last["at"] + 1, "bob", "approve", "churn:9", "ok", "{}", last["hash"], digest, sig),
    )


def test_an_appended_unsigned_entry_is_named(
    record: Record, attacker: sqlite3.Connection, verify
) -> None:
    _forge(attacker, None)
    code, body = verify(record)
    assert code == 1
    assert (body["first_bad"], body["problem"]) == (
        ENTRIES + 2,
        f"entry {ENTRIES + 2} is not signed",
    )


def test_an_entry_signed_with_another_key_is_named(
    record: Record, attacker: sqlite3.Connection, verify
) -> None:
    _forge(attacker, Ed25519PrivateKey.generate())
    code, body = verify(record)
    assert code == 1 and body["first_bad"] == ENTRIES + 2
    assert "not signed by the workspace key" in str(body["problem"])


def test_cut_newest_entries_are_counted_against_the_witness(
    record: Record, attacker: sqlite3.Connection, verify
) -> None:
    attacker.execute("DELETE FROM audit WHERE seq > 38")
    code, body = verify(record)
    assert code == 1 and body["missing"] == 3 and body["first_bad"] == 39
    assert body["problem"] == "3 entries after seq 38 are missing: the witness saw seq 41"
    assert body["witness"]["reached"] is False  # type: ignore[index]


def test_deleting_every_entry_is_counted(
    record: Record, attacker: sqlite3.Connection, verify
) -> None:
    attacker.execute("DELETE FROM audit")
    code, body = verify(record)
    assert code == 1 and body["missing"] == ENTRIES + 1
    assert body["problem"] == f"all {ENTRIES + 1} entries are missing: the witness saw seq 41"


def test_stripped_signatures_are_named(
    record: Record, attacker: sqlite3.Connection, verify
) -> None:
    attacker.execute("UPDATE audit SET signature = NULL WHERE seq = 20")
    code, body = verify(record)
    assert (code, body["first_bad"], body["problem"]) == (1, 20, "entry 20 is not signed")

    # Every signature gone and the chain recomputed: the key entry is unsigned.
    attacker.execute("UPDATE audit SET signature = NULL")
    rechain(attacker)
    code, body = verify(record)
    assert (code, body["first_bad"], body["problem"]) == (1, 1, "entry 1 is not signed")


def test_a_swapped_signature_is_named(record: Record, attacker: sqlite3.Connection, verify) -> None:
    other = attacker.execute("SELECT signature FROM audit WHERE seq = 30").fetchone()[0]
    attacker.execute("UPDATE audit SET signature = ? WHERE seq = 20", (other,))
    code, body = verify(record)
    assert (code, body["first_bad"]) == (1, 20)
    assert body["problem"] == "the signature of entry 20 was changed"


def test_a_record_passed_off_as_legacy_is_caught_by_the_witness(
    record: Record, attacker: sqlite3.Connection, verify
) -> None:
    """Signatures stripped, the key entry deleted and everything renumbered: only unsigned
    "legacy" entries remain, which is what the witness is for."""
    attacker.execute("UPDATE audit SET signature = NULL")
    attacker.execute("DELETE FROM audit WHERE seq = 1")
    attacker.execute("UPDATE audit SET seq = seq - 1")
    rechain(attacker)
    code, body = verify(record)
    assert code == 1 and body["legacy"] == ENTRIES and body["signed"] == 0
    assert body["missing"] == 1 and "missing: the witness saw seq 41" in str(body["problem"])


def test_a_replaced_public_key_file_is_named(record: Record, verify) -> None:
    (record.root / "audit.pub").write_text(public_key_line(Ed25519PrivateKey.generate()))
    code, body = verify(record)
    assert code == 1 and body["first_bad"] == 1
    assert "entry 1 introduces key" in str(body["problem"])
    assert "not among the workspace's public keys" in str(body["problem"])


def test_a_record_re_signed_with_another_key_is_caught_by_the_witness(
    record: Record, attacker: sqlite3.Connection, verify
) -> None:
    """The forger's own key pair, the public key file replaced, every entry re-signed:
    links and signatures all hold, but the head the witness saw is gone."""
    mallory = Ed25519PrivateKey.generate()
    attacker.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 12")
    resign(attacker, mallory)
    (record.root / "audit.pub").write_text(public_key_line(mallory))
    code, body = verify(record, "--full")
    assert code == 1 and body["first_bad"] == ENTRIES + 1
    assert body["problem"] == (
        f"entry {ENTRIES + 1} is not the entry the witness saw: the record was rewritten"
    )


@pytest.mark.parametrize("bad", [1, 2, 17, 21, 40, 41])
def test_the_binary_search_finds_the_same_entry_as_checking_every_signature(
    record: Record, attacker: sqlite3.Connection, verify, bad: int
) -> None:
    attacker.execute("UPDATE audit SET reason = 'forged' WHERE seq = ?", (bad,))
    rechain(attacker, bad)
    _, fast = verify(record)
    _, full = verify(record, "--full")
    assert fast["first_bad"] == full["first_bad"] == bad
    assert int(fast["signatures_checked"]) <= 7  # 1 + ⌈log2 41⌉  # type: ignore[call-overload]
    assert full["signatures_checked"] == bad


# -- the writer ---------------------------------------------------------------------


def test_the_writer_refuses_to_sign_on_top_of_a_forgery(
    record: Record, attacker: sqlite3.Connection, cli
) -> None:
    attacker.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 12")
    rechain(attacker, 12)
    with pytest.raises(audit.AuditBroken, match=r"entry 41 is not signed by the workspace key"):
        record.append()
    assert attacker.execute("SELECT MAX(seq) FROM audit").fetchone()[0] == ENTRIES + 1


def test_the_writer_refuses_to_extend_a_cut_record(
    record: Record, attacker: sqlite3.Connection
) -> None:
    attacker.execute("DELETE FROM audit WHERE seq > 38")
    with pytest.raises(audit.AuditBroken, match="3 entries after seq 38 are missing"):
        record.append()


def test_a_refused_change_is_one_line_on_the_command_line(tmp_path: Path, cli) -> None:
    """Through a real audited change: rejecting the seeded workspace's pending request."""
    from lookout.console.showcase import seed
    from lookout.storage.identity import current_user

    root = tmp_path / "seeded"
    seed(root, current_user()).close()
    conn = sqlite3.connect(root / "lookout.db", isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("UPDATE audit SET reason = 'forged' WHERE seq = 2")
    rechain(conn, 2)
    newest = conn.execute("SELECT MAX(seq) FROM audit").fetchone()[0]
    conn.close()

    done = cli("reject", "1", "--reason", "not now", "-w", str(root))
    assert done.code == 2 and done.out == ""
    assert done.err.count("\n") == 1 and "Traceback" not in done.err
    assert f"entry {newest} is not signed by the workspace key" in done.err
    assert "lookout audit --verify" in done.err


def test_an_unsigned_writer_cannot_add_to_a_signed_record(record: Record) -> None:
    store = Store(record.db)  # no signer: e.g. a script opening the file directly
    try:
        with pytest.raises(StoreError, match="has no signing key"), store.write() as conn:
            audit.append(conn, "alice", "promote", "churn", "sneaky")
    finally:
        store.close()


def test_a_lost_private_key_refuses_changes_and_says_what_to_do(
    record: Record, cli, verify
) -> None:
    (record.root / "keys" / "audit.key").unlink()
    with pytest.raises(StoreError, match="lookout audit --new-key"):
        record.append()

    assert cli("audit", "-w", str(record.root), "--new-key").code == 0
    record.append(2)
    code, body = verify(record, "--full")
    assert code == 0, body
    assert body["signed"] == ENTRIES + 4  # the new key's entry and two changes
    pub = (record.root / "audit.pub").read_text().split("\n")
    assert len([line for line in pub if line.startswith("ed25519 ")]) == 2


def test_a_damaged_key_refuses_changes_but_not_reading(record: Record, cli) -> None:
    (record.root / "keys" / "audit.key").write_text("not a key\n")
    assert cli("status", "-w", str(record.root)).code in (0, 1)  # opens writable, reads
    with pytest.raises(StoreError, match="audit.key: not a private key"):
        record.append()


def test_a_crash_between_commit_and_publication_is_caught_up_at_the_next_open(
    record: Record, verify
) -> None:
    """A real process commits an entry and dies before it reaches the witness."""
    script = textwrap.dedent(
        f"""
        import os
        from lookout.scheduler import signing
        from lookout.scheduler.workspace import open_workspace
        from lookout.storage import audit

        ws = open_workspace({str(record.root)!r})
        signing.WorkspaceSigner.publish = lambda self, head: os._exit(9)
        with ws.store.write() as conn:
            audit.append(conn, "alice", "promote", "churn:9", "then the power went")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 9, done.stderr
    assert record.witnessed_seq() == ENTRIES + 1  # the witness missed the new head

    code, body = verify(record)  # a record ahead of its witness still verifies
    assert code == 0 and body["witness"]["seq"] == ENTRIES + 1  # type: ignore[index]

    open_workspace(record.root).close()  # the next writable open (the daemon's start)
    assert record.witnessed_seq() == ENTRIES + 2


def test_an_unfinished_witness_line_is_skipped_and_the_next_starts_fresh(record: Record) -> None:
    with open(record.witness, "a") as f:
        f.write('{"seq": 99, "hash": "cut sh')
    assert record.witnessed_seq() == ENTRIES + 1
    record.append()
    assert record.witnessed_seq() == ENTRIES + 2
    assert record.witness.read_text().splitlines()[-2] == '{"seq": 99, "hash": "cut sh'


def test_an_append_only_witness_takes_new_heads_and_refuses_rewrites(record: Record) -> None:
    """The README's set-up: `chattr +a` keeps even the writer from cutting the witness."""
    from tests import accounts

    accounts.need_root("set the append-only attribute")
    subprocess.run(["chattr", "+a", str(record.witness)], check=True)
    try:
        record.append()
        assert record.witnessed_seq() == ENTRIES + 2
        with pytest.raises(PermissionError):
            record.witness.write_text("")
    finally:
        subprocess.run(["chattr", "-a", str(record.witness)], check=True)


# -- legacy stores, no witness, config ------------------------------------------------


def _v4_store_with_entries(path: Path, n: int) -> None:
    """A store as Lookout with schema V4 left it: an unsigned chain of `n` entries."""
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, path, target=4)
    prev = audit.GENESIS
    for seq in range(1, n + 1):
        digest = audit.entry_hash(prev, seq, 1.7e9 + seq, "carol", "promote", "m", "old", {})
        conn.execute(
            "INSERT INTO audit (seq, at, actor, action, subject, reason, details_json,"
            " prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?)",
            (seq, 1.7e9 + seq, "carol", "promote", "m", "old", "{}", prev, digest),
        )
        prev = digest
    conn.close()


def test_a_legacy_store_verifies_and_is_signed_from_the_key_on(tmp_path: Path, verify) -> None:
    root = tmp_path / "old"
    root.mkdir()
    (root / "lookout.toml").write_text(config(None))
    _v4_store_with_entries(root / "lookout.db", 7)
    r = Record(root, tmp_path / "unused")

    # Read-only, before anything migrated it: all legacy, nothing to check signatures of.
    code, body = verify(r)
    assert code == 0 and (body["legacy"], body["signed"]) == (7, 0)
    assert body["witness"] is None

    r.append(3)  # migrates to the signature column, makes the key, signs from here on
    code, body = verify(r, "--full")
    assert code == 0, body
    assert (body["entries"][0]["seq"], body["legacy"], body["signed"]) == (11, 7, 4)  # type: ignore[index]


def test_without_a_witness_verify_says_what_it_cannot_see(tmp_path: Path, cli) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "lookout.toml").write_text(config(None))
    Record(root, tmp_path / "unused").append(2)
    done = cli("audit", "-w", str(root), "--verify")
    assert done.code == 0
    assert "entries cut from the end would go unnoticed" in done.out
    assert "the newest vouches for the rest" in done.out


def test_a_witness_inside_the_workspace_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "lookout.toml").write_text(config(Path("witness.log")))
    with pytest.raises(ConfigError, match="audit.witness: expected a path outside the workspace"):
        open_workspace(root)


def test_the_storage_verify_defaults_to_the_stores_own_keys(record: Record) -> None:
    ws = open_workspace(record.root)
    try:
        result = audit.verify(ws.store)
    finally:
        ws.close()
    assert isinstance(result, AuditVerification) and result.verified


# -- real accounts ------------------------------------------------------------------

FORGE = """
import json, shutil, sqlite3, sys
from lookout.storage import audit

db, copy, how = sys.argv[1], sys.argv[2], sys.argv[3]
shutil.copy(db, copy)
conn = sqlite3.connect(copy, isolation_level=None)
conn.execute("DROP TRIGGER audit_no_update")
conn.execute("DROP TRIGGER audit_no_delete")
if how == "cut":
    conn.execute("DELETE FROM audit WHERE seq > 3")
else:
    conn.execute("UPDATE audit SET actor = 'bob' WHERE seq = 3")
    prev, sig = conn.execute("SELECT hash, signature FROM audit WHERE seq = 2").fetchone()
    for seq, at, actor, action, subject, reason, details, s in conn.execute(
        "SELECT seq, at, actor, action, subject, reason, details_json, signature"
        " FROM audit WHERE seq >= 3 ORDER BY seq"
    ).fetchall():
        digest = audit.entry_hash(
            prev, seq, at, actor, action, subject, reason, json.loads(details), sig or ""
        )
        conn.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, digest, seq))
        prev, sig = digest, s
conn.close()
shutil.move(copy, db)
"""

WRITE = """
import sys
from lookout.scheduler.workspace import open_workspace
from lookout.storage import audit

ws = open_workspace(sys.argv[1])
with ws.store.write() as conn:
    audit.append(conn, "me", "promote", "churn:2", sys.argv[2])
"""


@pytest.mark.slow
def test_a_group_member_who_swaps_in_a_forged_copy_is_caught(team, tmp_path: Path) -> None:
    """The set-up issue 14 found people using: the store's directory and file writable by
    the team's group. bob cannot read the key or write the witness, but he can replace
    the store with a copy he edited and rechained, or cut it back; alice's verify says so."""
    import grp
    import os
    import shutil

    from tests.accounts import OS_VENV

    python = OS_VENV / "bin" / "python"
    svc, gid = team["svc"], team.gid
    ws = team.base / f"ws-{tmp_path.name}"
    witness_dir = team.base / f"witness-{tmp_path.name}"  # root's: only svc's file in it
    witness_dir.mkdir(mode=0o755)
    (witness_dir / "audit.log").touch(mode=0o640)
    os.chown(witness_dir / "audit.log", svc.uid, gid)
    ws.mkdir(mode=0o770)
    os.chown(ws, svc.uid, gid)
    os.chmod(ws, 0o2770)
    (ws / "lookout.toml").write_text(
        f'[workspace]\nname = "team"\ngroup = "{team.group}"\n'
        f'[audit]\nwitness = "{witness_dir / "audit.log"}"\n'
    )
    os.chown(ws / "lookout.toml", svc.uid, gid)
    assert grp.getgrgid(gid).gr_name == team.group
    try:
        for i in range(5):
            done = team.run("svc", [python, "-c", WRITE, ws, f"change {i}"])
            assert done.returncode == 0, done.stderr
        assert (ws / "lookout.db").stat().st_mode & 0o060 == 0o060  # the group may write it

        # bob has no key to sign with, so the store refuses his entries outright.
        done = team.run("bob", [python, "-c", WRITE, ws, "bob was here"])
        assert done.returncode != 0 and "cannot read the audit signing key" in done.stderr
        # He cannot write the witness either.
        done = team.run("bob", ["sh", "-c", f"echo x >> {witness_dir / 'audit.log'}"])
        assert done.returncode != 0

        for how, first_bad, words in (
            ("edit", 3, "entry 3 was altered or forged"),
            ("cut", 4, "3 entries after seq 3 are missing: the witness saw seq 6"),
        ):
            saved = tmp_path / "saved.db"
            shutil.copy(ws / "lookout.db", saved)
            done = team.run("bob", [python, "-c", FORGE, ws / "lookout.db", ws / "copy.db", how])
            assert done.returncode == 0, done.stderr
            seen = team.lookout("alice", "audit", "-w", ws, "--verify", "--json")
            assert seen.returncode == 1, seen.stdout + seen.stderr
            body = json.loads(seen.stdout)
            assert body["first_bad"] == first_bad and words in body["problem"]
            shutil.copy(saved, ws / "lookout.db")
            os.chown(ws / "lookout.db", svc.uid, gid)
            os.chmod(ws / "lookout.db", 0o660)
    finally:
        shutil.rmtree(ws, ignore_errors=True)
        shutil.rmtree(witness_dir, ignore_errors=True)


# -- the console ----------------------------------------------------------------------


async def test_the_console_verifies_and_names_a_forged_entry(ws) -> None:
    from lookout.console.app import LookoutApp
    from lookout.console.commands.screenshots import settle
    from lookout.console.showcase import NOW
    from textual.widgets import Static

    from tests.test_console import person

    app = LookoutApp(ws, clock=lambda: NOW, start_scheduler=False, changes=person(ws, "alice"))
    count = len(audit.entries(ws.store))

    async def verified() -> str:
        await pilot.press("v")
        await app.workers.wait_for_complete()
        await settle(pilot)
        return str(app.screen.query_one("#audit-title", Static).render())

    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.jump("audit")
        await settle(pilot)
        assert f"✓ verified: all {count} entries hold, {count} signed" in await verified()

        conn = sqlite3.connect(ws.store.path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("DROP TRIGGER audit_no_update")
        conn.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 3")
        rechain(conn, 3)
        conn.close()
        assert "✗ broken: entry 3 was altered or forged" in await verified()

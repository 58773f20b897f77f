"""A logged batch's raw rows live in one file beside the store: written once, named by its
row only after the file is whole, removed with the row, and never left behind by a crash."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from lookout.storage import drift as drift_store
from lookout.storage import retention
from lookout.storage.db import Store

APPEND = """
import sys
import numpy as np
from lookout.storage import drift
from lookout.storage.db import Store
drift.append_batch(Store(sys.argv[1]), "m", {"x": np.arange(100_000.0), "s": ["a"] * 100_000})
"""


def files(store: Store) -> list[Path]:
    folder = drift_store.batch_folder(store)
    return sorted(folder.iterdir()) if folder.exists() else []


def test_a_batch_is_one_file_its_row_names(store: Store) -> None:
    x = np.arange(1000.0)
    drift_store.append_batch(store, "m", {"x": x, "s": [str(i) for i in range(1000)]})
    (path,) = files(store)
    (name,) = [r[0] for r in store.conn.execute("SELECT data_file FROM inference_batches")]
    assert path.name == name and path.stat().st_size >= x.nbytes
    (batch,) = drift_store.load_window(store, "m")
    assert np.array_equal(np.frombuffer(batch.columns["x"]), x)
    assert batch.columns["s"][-1] == "999"


def cached_pages(path: Path) -> int:
    """How many of a file's pages are in the page cache (mincore over a read-only map)."""
    import ctypes
    import mmap

    size = path.stat().st_size
    pages = -(-size // mmap.PAGESIZE)
    vec = (ctypes.c_ubyte * pages)()
    libc = ctypes.CDLL(None, use_errno=True)
    with path.open("rb") as f, mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ) as m:
        view = np.frombuffer(m, np.uint8)
        address = view.ctypes.data
        found = libc.mincore(ctypes.c_void_p(address), ctypes.c_size_t(size), vec)
        del view  # before the map closes
    assert found == 0, os.strerror(ctypes.get_errno())
    return sum(v & 1 for v in vec)


@pytest.mark.skipif(not hasattr(os, "O_DIRECT"), reason="no O_DIRECT here (not Linux)")
def test_a_large_batch_file_is_written_around_the_page_cache_a_small_one_through_it(
    store: Store,
) -> None:
    """Raw rows are written once and seldom read: a large file skips the cache (logging 10M
    rows would push 4 GB of other files out), a small one is written the usual way. Both
    read back whole: columns of sizes that are not whole blocks, text among them."""
    rows = drift_store.WRITE_DIRECT // 8 + 1001
    words = [f"id-{i}" for i in range(rows)]
    drift_store.append_batch(
        store, "m", {"x": np.arange(float(rows)), "y": -np.arange(float(rows)), "id": words}
    )
    drift_store.append_batch(store, "m", {"x": np.arange(1000.0)})
    small, large = sorted(files(store), key=lambda p: p.stat().st_size)
    layout = json.loads(
        store.conn.execute("SELECT columns_json FROM inference_batches ORDER BY id").fetchone()[0]
    )
    assert large.stat().st_size == max(c["offset"] + c["size"] for c in layout)  # cut to size
    assert cached_pages(large) < 0.05 * large.stat().st_size / os.sysconf("SC_PAGE_SIZE")
    assert cached_pages(small) == -(-small.stat().st_size // os.sysconf("SC_PAGE_SIZE"))
    big, tiny = drift_store.load_window(store, "m")
    assert np.array_equal(np.frombuffer(big.columns["x"]), np.arange(float(rows)))
    assert np.array_equal(np.frombuffer(big.columns["y"]), -np.arange(float(rows)))
    assert big.columns["id"] == words
    assert len(np.frombuffer(tiny.columns["x"])) == 1000


def test_a_large_file_where_writing_around_the_cache_is_refused_goes_through_it(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some file systems refuse O_DIRECT (EINVAL): the file is then written the usual way."""
    plain_open = os.open

    def refuse_direct(path: Any, flags: int, *args: Any) -> int:
        if flags & getattr(os, "O_DIRECT", 0):
            raise OSError(errno.EINVAL, "Invalid argument")
        return plain_open(path, flags, *args)

    monkeypatch.setattr(drift_store.os, "open", refuse_direct)
    rows = drift_store.WRITE_DIRECT // 8 + 3
    drift_store.append_batch(store, "m", {"x": np.arange(float(rows))})
    (batch,) = drift_store.load_window(store, "m")
    assert np.array_equal(np.frombuffer(batch.columns["x"]), np.arange(float(rows)))
    (f,) = files(store)
    assert f.stat().st_size == rows * 8


def test_a_profile_that_fails_leaves_neither_row_nor_file(store: Store) -> None:
    """The file is written while the profile is computed: a failing profile removes it."""

    def broken() -> bytes:
        raise RuntimeError("profile failed")

    with pytest.raises(RuntimeError, match="profile failed"):
        drift_store.append_batch(store, "m", {"x": np.arange(200_000.0)}, profile=broken)
    assert files(store) == []
    assert store.conn.execute("SELECT COUNT(*) FROM inference_batches").fetchone()[0] == 0


def test_files_take_the_stores_mode_so_its_readers_can_read_them(tmp_path: Path) -> None:
    path = tmp_path / "lookout.db"
    store = Store(path, mode=0o640)
    drift_store.append_batch(store, "m", {"x": [1.0, 2.0]})
    (f,) = files(store)
    assert f.stat().st_mode & 0o777 == 0o640
    assert drift_store.batch_folder(store).stat().st_mode & 0o777 == 0o750
    reader = Store(path, readonly=True)
    (batch,) = drift_store.load_window(reader, "m")
    assert list(np.frombuffer(batch.columns["x"])) == [1.0, 2.0]


def test_a_kill_between_the_file_and_its_row_leaves_an_orphan_the_sweep_removes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "lookout.db"
    Store(path).close()
    env = {**os.environ, "LOOKOUT_CRASH_AT": "batch.before_commit"}
    done = subprocess.run([sys.executable, "-c", APPEND, str(path)], env=env, timeout=60)
    assert done.returncode == -9  # killed right there, as a power cut would
    store = Store(path)
    assert drift_store.logged_rows(store, "m") == 0
    assert len(files(store)) == 1
    assert drift_store.sweep_batch_files(store) == 0  # young: a write may still be going on
    assert drift_store.sweep_batch_files(store, older_than=0) == 1
    assert files(store) == []
    subprocess.run([sys.executable, "-c", APPEND, str(path)], check=True, timeout=60)
    assert drift_store.sweep_batch_files(store, older_than=0) == 0  # a named file stays
    assert drift_store.logged_rows(store, "m") == 100_000 and len(files(store)) == 1


def test_a_missing_file_is_one_line_naming_the_batch_and_its_profile_still_serves(
    store: Store,
) -> None:
    batch_id = drift_store.append_batch(store, "m", {"x": [1.0, 2.0]}, profile=b"p")
    (f,) = files(store)
    f.unlink()
    with pytest.raises(drift_store.BatchError, match=f"batch {batch_id}: its raw rows are gone"):
        drift_store.load_window(store, "m")
    profiles = store.conn.execute("SELECT batch_id FROM batch_profiles").fetchall()
    assert [r[0] for r in profiles] == [batch_id]  # what drift windows read
    f.write_bytes(b"short")
    with pytest.raises(drift_store.BatchError, match="shorter than its rows"):
        drift_store.load_batch(store, batch_id)


def test_retention_unlinks_the_files_of_the_rows_it_deletes(store: Store) -> None:
    keep = drift_store.append_batch(store, "m", {"x": [1.0]}, profile=b"p")
    store.conn.execute("UPDATE inference_batches SET at = at - 30 * 86400")  # a month old
    drift_store.append_batch(store, "m", {"x": [2.0]}, profile=b"p")
    removed = retention.prune(store, {"raw_rows": 7 * 86400})
    assert removed["raw_rows"] == 1 and len(files(store)) == 1
    assert drift_store.load_batch(store, keep) is None

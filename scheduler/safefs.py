"""Files under the artifacts directory, reached without following symlinks.

Model files and serving pointers live under `[workspace] artifacts`. Every
path below that directory is walked one component at a time from a
descriptor of the directory (`openat` with O_NOFOLLOW), so a symlink planted
anywhere below it (`artifacts/serving/churn -> ~alice/private`) is refused
instead of followed, and a path that would leave the directory (`..`) is
refused before anything is opened. Writes go to a temporary name in the same
directory, are flushed to disk, and are renamed into place.

The artifacts directory itself is taken as configured: it may be a symlink
to a bigger disk.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

# The umask decides: a shared workspace's daemon runs with 027, so its group reads model
# files and pointers and nobody else does.
FILE_MODE = 0o666
DIR_MODE = 0o777
_NOFOLLOW = os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class UnsafePath(Exception):
    """A path that would follow a symlink or leave the artifacts directory; one line."""


def inside(base: Path, path: Path) -> bool:
    """Whether `path` names something below `base` (lexically, nothing resolved)."""
    return _parts(base, path, check=False) is not None


def _parts(base: Path, path: Path, check: bool = True) -> list[str] | None:
    """The components of `path` below `base` (after normalising `..` away), or a refusal
    when it is not below it."""
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(base))
    if rel == "." or rel == os.pardir or rel.startswith(os.pardir + os.sep):
        if check:
            raise UnsafePath(f"{path} is not under {base}")
        return None
    return list(Path(rel).parts)


def _refuse(base: Path, path: Path, exc: OSError) -> UnsafePath:
    return UnsafePath(f"refused {path}: a part of it below {base} is a symlink or not a directory")


@contextlib.contextmanager
def directory(base: Path, path: Path, create: bool = False) -> Iterator[int]:
    """A descriptor of directory `path` under `base`, walked without following symlinks;
    with `create`, missing directories are made (DIR_MODE)."""
    parts = [] if os.path.abspath(path) == os.path.abspath(base) else _parts(base, path)
    if create:
        os.makedirs(base, DIR_MODE, exist_ok=True)
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    try:
        for part in parts or []:
            try:
                nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, DIR_MODE, dir_fd=fd)
                nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise _refuse(base, path, exc) from None
                raise
            os.close(fd)
            fd = nxt
        yield fd
    finally:
        os.close(fd)


@contextlib.contextmanager
def open_file(base: Path, path: Path) -> Iterator[int]:
    """A read descriptor of the regular file `path` under `base` (no symlink anywhere)."""
    with directory(base, path.parent) as dfd:
        try:
            fd = os.open(path.name, os.O_RDONLY | _NOFOLLOW, dir_fd=dfd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise _refuse(base, path, exc) from None
            raise
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise UnsafePath(f"{path}: not a regular file")
            yield fd
        finally:
            os.close(fd)


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def read_bytes(base: Path, path: Path) -> bytes:
    with open_file(base, path) as fd:
        return _read_all(fd)


def sha256(base: Path, path: Path) -> str:
    digest = hashlib.sha256()
    with open_file(base, path) as fd:
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint(base: Path, path: Path) -> tuple[int, int, int, int]:
    """(device, inode, size, mtime in ns) of a file: a cheap "did it change?" key."""
    with directory(base, path.parent) as dfd:
        st = os.stat(path.name, dir_fd=dfd, follow_symlinks=False)
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePath(f"{path}: not a regular file")
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def write_new(dfd: int, name: str, data: bytes) -> None:
    """Write `data` to a new file `name` in directory `dfd` and flush it to disk; a file
    that cannot be written whole is removed again."""
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, FILE_MODE, dir_fd=dfd)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=dfd)
        raise
    os.close(fd)


def rename(dfd: int, src: str, dst: str) -> None:
    """Rename within one directory, atomically, and make the rename durable."""
    os.replace(src, dst, src_dir_fd=dfd, dst_dir_fd=dfd)
    os.fsync(dfd)


def unlink(dfd: int, name: str) -> bool:
    """Remove `name` from directory `dfd`; False when it was not there."""
    try:
        os.unlink(name, dir_fd=dfd)
    except FileNotFoundError:
        return False
    return True


def write_atomic(base: Path, path: Path, data: bytes, tag: str) -> None:
    """Put `data` at `path` whole or not at all (temporary `.NAME.TAG.tmp`, then rename)."""
    with directory(base, path.parent, create=True) as dfd:
        tmp = f".{path.name}.{tag}.tmp"
        unlink(dfd, tmp)
        write_new(dfd, tmp, data)
        try:
            rename(dfd, tmp, path.name)
        except BaseException:
            unlink(dfd, tmp)
            raise


def remove(base: Path, path: Path) -> bool:
    """Remove a file under `base`; False when it was not there."""
    try:
        with directory(base, path.parent) as dfd:
            return unlink(dfd, path.name)
    except FileNotFoundError:
        return False


def listdir(base: Path, path: Path) -> list[str]:
    """Names in directory `path` under `base` (empty when it does not exist)."""
    try:
        with directory(base, path) as dfd:
            return os.listdir(dfd)
    except FileNotFoundError:
        return []

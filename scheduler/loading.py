"""Loading a dataset named in the config: a CSV/Parquet path or glob, or a `module:function`."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from lookout.scheduler import usercode
from lookout.scheduler.config import Config
from lookout.scheduler.frame import DataError, Frame, frame_from_columns, read_table, scan_table
from lookout.scheduler.validate import CALL_RE


@dataclass(frozen=True)
class Loaded:
    frame: Frame
    source: str  # what was read, for the snapshot and messages
    files: tuple[Path, ...]  # the files read (empty for a callable)
    modified_at: float | None  # newest file modification time


def resolve_callable(cfg: Config, spec: str) -> object:
    """Import `module:function` (from the workspace's code folder first, see
    `lookout.scheduler.usercode`); a one-line DataError when it does not import."""
    module_name, _, attr = spec.partition(":")
    try:
        return usercode.load(cfg.code_path, module_name, attr, spec)
    except usercode.CodeError as exc:
        raise DataError(str(exc)) from None


def matching_files(cfg: Config, source: str) -> list[Path]:
    """Files a path or glob names, relative to the workspace, sorted by name."""
    pattern = str(cfg.resolve(source))
    return sorted(Path(p) for p in glob.glob(pattern) if os.path.isfile(p))


@dataclass(frozen=True)
class Source:
    """A dataset opened for a pass in record batches (`scan`), without reading it yet."""

    cfg: Config
    dataset: str
    label: str  # what is read, for the snapshot and messages
    files: tuple[Path, ...]
    modified_at: float | None
    frame: Frame | None  # a `module:function` source's result, already in memory

    def scan(
        self,
        batch_rows: int,
        force: Mapping[str, str] | None = None,
        batch_bytes: int | None = None,
    ) -> Iterator[Frame]:
        """The dataset in Frames of up to `batch_rows` rows, file after file (see
        `lookout.scheduler.frame.scan_table` for `force`, `batch_bytes` and kind changes)."""
        if self.frame is not None:
            yield self.frame
            return
        fmt = self.cfg.datasets[self.dataset]["format"]
        first: list[str] | None = None
        for path in self.files:
            for frame in scan_table(path, fmt, batch_rows, force, batch_bytes):
                if first is None:
                    first = frame.names
                elif frame.names != first:
                    raise DataError(f"{path}: columns differ from {self.files[0]}")
                yield frame
                del frame  # not held while the next batch is read


def open_dataset(cfg: Config, dataset: str) -> Source:
    """The dataset's files (or its function's frame), ready to scan; DataError if none."""
    ds = cfg.datasets[dataset]
    source = ds["source"]
    if CALL_RE.match(source) and not os.path.exists(cfg.resolve(source)):
        loaded = load_dataset(cfg, dataset)
        return Source(cfg, dataset, loaded.source, (), None, loaded.frame)
    files = matching_files(cfg, source)
    if not files:
        raise DataError(f"{cfg.resolve(source)}: no file matches")
    mtime = max(f.stat().st_mtime for f in files)
    label = str(files[0]) if len(files) == 1 else f"{source} ({len(files)} files)"
    return Source(cfg, dataset, label, tuple(files), mtime, None)


def load_dataset(cfg: Config, dataset: str) -> Loaded:
    """Read all of a dataset's files (concatenated in name order) or call its function."""
    ds = cfg.datasets[dataset]
    source = ds["source"]
    if CALL_RE.match(source) and not os.path.exists(cfg.resolve(source)):
        fn = resolve_callable(cfg, source)
        if not callable(fn):
            raise DataError(f"{source}: is not callable")
        try:
            result = fn()
        except Exception as exc:
            raise DataError(f"{source}: raised {type(exc).__name__}: {exc}") from None
        try:
            frame = result if isinstance(result, Frame) else frame_from_columns(dict(result))
        except (TypeError, ValueError):
            kind = type(result).__name__
            raise DataError(f"{source}: returned {kind}, expected a Frame or a mapping") from None
        return Loaded(frame, source, (), None)
    files = matching_files(cfg, source)
    if not files:
        raise DataError(f"{cfg.resolve(source)}: no file matches")
    frames = [read_table(f, ds["format"]) for f in files]
    frame = concat(frames, [str(f) for f in files])
    mtime = max(f.stat().st_mtime for f in files)
    label = str(files[0]) if len(files) == 1 else f"{source} ({len(files)} files)"
    return Loaded(frame, label, tuple(files), mtime)


def concat(frames: list[Frame], labels: list[str]) -> Frame:
    """Stack frames with the same columns; kinds widen (integer→number, anything→string)."""
    if len(frames) == 1:
        return frames[0]
    first = frames[0]
    for f, label in zip(frames[1:], labels[1:], strict=True):
        if f.names != first.names:
            raise DataError(f"{label}: columns differ from {labels[0]}")
    columns: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    for name in first.names:
        ks = {f.kinds[name] for f in frames}
        if len(ks) == 1:
            kind = ks.pop()
        elif ks <= {"integer", "number"}:
            kind = "number"
        else:
            kind = "string"
        parts = [f[name] if kind != "string" else f[name].astype(str) for f in frames]
        columns[name] = np.concatenate(parts)
        kinds[name] = kind
    return Frame(columns, kinds)

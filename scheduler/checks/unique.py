"""unique: no key (one column or a composite) appears twice; rows with a missing part are skipped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lookout.scheduler.checks.base import (
    COLUMN_KEYS,
    CheckType,
    Context,
    Outcome,
    Unevaluable,
    one_column_key,
)
from lookout.storage.checks import MAX_EXAMPLES

if TYPE_CHECKING:
    import numpy as np
    from lookout.scheduler.frame import Frame

KEYS = dict(COLUMN_KEYS)


def rules(label: str, check: dict[str, Any]) -> None:
    one_column_key("unique", label, check)


class State:
    """The present keys of every batch, sorted together at the end.

    Keys take 8 bytes a row per numeric part (4 per character for text); past
    ``SPILL_BYTES`` in a streamed pass they are spread over temporary files by
    hash, and each file is then checked on its own (equal keys share a file):
    the count is the same, the examples are then the first duplicates of each
    file rather than the smallest ones.
    """

    def __init__(self, c: dict[str, Any], ctx: Context):
        self.names: list[str] = c["columns"] or [c["column"]]
        self.kinds: list[str] = []
        self.parts: list[list[np.ndarray]] = [[] for _ in self.names]
        self.held = 0
        self.spill: Spill | None = None
        self.streaming = ctx.streaming

    def update(self, frame: Frame, first_row: int) -> None:
        from lookout.scheduler.checks.columns import column, missing

        if frame.rows == 0:  # "no rows" comes before a missing column, as in memory
            return
        cols = [column(frame, n) for n in self.names]
        self.kinds = [k for _, k in cols]
        present: np.ndarray | None = None
        for values, kind in cols:
            gap = missing(values, kind)
            if gap is not None:
                present = ~gap if present is None else present & ~gap
        if present is not None:
            keys = [v[present] for v, _ in cols]
        else:  # a streamed batch's column may be a view of the file's whole row group
            keys = [v.copy() if self.streaming else v for v, _ in cols]
        for part, k in zip(self.parts, keys, strict=True):
            part.append(k)
        self.held += sum(k.nbytes for k in keys)
        if self.streaming and self.held > SPILL_BYTES:
            if self.spill is None:
                self.spill = Spill(len(self.names))
            self.spill.write(self._take())

    def _take(self) -> list[np.ndarray]:
        import numpy as np

        keys = [np.concatenate(p) if len(p) > 1 else p[0] for p in self.parts]
        self.parts = [[] for _ in self.names]
        self.held = 0
        return keys

    def finish(self, rows: int, kinds: dict[str, str]) -> Outcome:
        from lookout.scheduler.checks.columns import plural

        if rows == 0:
            raise Unevaluable("no rows to examine")
        if self.spill is None:
            n, count, found = _duplicates(self._take(), self.kinds)
        else:
            if self.parts[0]:
                self.spill.write(self._take())
            n, count, found = 0, 0, ()
            for keys in self.spill.read():
                pn, pc, pf = _duplicates(keys, self.kinds)
                n, count = n + pn, count + pc
                found = found if len(found) >= MAX_EXAMPLES else (*found, *pf)[:MAX_EXAMPLES]
            self.spill.close()
        if n == 0:
            raise Unevaluable("every key has a missing part")
        return Outcome(
            passed=count == 0,
            observed=f"{count} duplicate {plural(count, 'row')}",
            threshold=f"unique ({', '.join(self.names)})",
            rows=n,
            failing_rows=count,
            examples=found,
        )


def _duplicates(keys: list[np.ndarray], kinds: list[str]) -> tuple[int, int, tuple[str, ...]]:
    """(keys, duplicate rows, examples): a sort, then each key against the one before."""
    import numpy as np
    from lookout.scheduler.checks.columns import examples, show

    n = len(keys[0])
    if n == 0:
        return 0, 0, ()
    if len(keys) == 1:
        ordered = [np.sort(keys[0])]
    else:
        order = np.lexsort(keys[::-1])
        ordered = [k[order] for k in keys]
    dup = np.ones(n - 1, dtype=bool)
    for k in ordered:
        dup &= k[1:] == k[:-1]
    count = int(np.count_nonzero(dup))
    found: tuple[str, ...] = ()
    if count:
        at = np.flatnonzero(dup)[:1000] + 1
        if len(ordered) == 1:
            found = examples(ordered[0][at], kinds[0])
        else:
            parts = [[show(v) for v in k[at].tolist()] for k in ordered]
            found = examples(np.array([", ".join(p) for p in zip(*parts, strict=True)]))
    return n, count, found


class Spill:
    """Keys spread over PARTITIONS temporary .npy files by a hash of the whole key."""

    def __init__(self, width: int):
        import tempfile

        self.dir = tempfile.TemporaryDirectory(prefix="lookout-unique-")
        self.width = width
        self.files: list[list[str]] = [[] for _ in range(PARTITIONS)]

    def write(self, keys: list[np.ndarray]) -> None:
        import os

        import numpy as np
        from lookout.scheduler.frame import text_hashes

        h = np.zeros(len(keys[0]), dtype=np.uint64)
        with np.errstate(over="ignore"):
            for k in keys:
                if k.dtype.kind == "U":
                    part = text_hashes(k)
                else:  # -0.0 == 0.0: one bit pattern for both
                    part = (k.astype(float) + 0.0).view(np.uint64)
                h = h * np.uint64(1000003) ^ part
        bucket = (h ^ (h >> np.uint64(29))) % np.uint64(PARTITIONS)
        for b in range(PARTITIONS):
            rows = bucket == b
            if rows.any():
                path = os.path.join(self.dir.name, f"{b}-{len(self.files[b])}.npz")
                np.savez(path, *[k[rows] for k in keys])
                self.files[b].append(path)

    def read(self):
        import numpy as np

        for paths in self.files:
            if not paths:
                continue
            parts: list[list[np.ndarray]] = [[] for _ in range(self.width)]
            for path in paths:
                with np.load(path) as saved:
                    for i in range(self.width):
                        parts[i].append(saved[f"arr_{i}"])
            yield [np.concatenate(p) for p in parts]

    def close(self) -> None:
        self.dir.cleanup()


SPILL_BYTES = 64 << 20  # partitioning a spill takes ~4x its keys: 2.4 GB peak at 256 MB
PARTITIONS = 16


CHECK = CheckType("unique", KEYS, State, rules)

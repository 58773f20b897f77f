"""Reading a CSV with the types its first block decides (less memory) gives exactly what
Arrow's inference over the whole file gives, and a later row that does not fit those
types is read the inferring way: numbers widen, text stays text, nothing is lost."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from lookout.scheduler import frame as frames
from lookout.scheduler.frame import Frame, read_csv

ROWS = 40_000  # about 2 MB: more than the first block the types come from


@pytest.fixture(autouse=True)
def read_as_a_large_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files this size are read the inferring way at once; here they are read as large
    files are, with the head's types."""
    monkeypatch.setattr(frames, "DECLARE_FROM", 0)


def mixed_csv(path: Path, tail: str = "", gaps_only: bool = False) -> Path:
    rng = np.random.default_rng(3)
    ints = rng.integers(-1000, 1000, ROWS)
    floats = np.round(rng.normal(0, 1e3, ROWS), 4)
    flags = rng.choice(["true", "False", "yes", "n"], ROWS)
    words = rng.choice(["north", "south", "NA", "", 'a "quoted", word'], ROWS)
    stamps = rng.integers(1_700_000_000, 1_800_000_000, ROWS).astype("datetime64[s]")
    lines = ["i,f,b,w,t,gap"]
    for k in range(ROWS):
        gap = "" if k % 7 else "null" if gaps_only or k % 2 else str(k)
        w = f'"{words[k].replace(chr(34), chr(34) * 2)}"' if '"' in words[k] else words[k]
        lines.append(f"{ints[k]},{floats[k]},{flags[k]},{w},{stamps[k]}Z,{gap}")
    path.write_text("\n".join(lines) + "\n" + tail)
    return path


def inferring(path: Path, monkeypatch: pytest.MonkeyPatch) -> Frame:
    """The same file read as before: every type inferred by Arrow over the whole file."""
    with monkeypatch.context() as m:
        m.setattr(frames, "_head_types", lambda *a: None)
        return read_csv(path)


def same(a: Frame, b: Frame) -> None:
    assert a.kinds == b.kinds
    for name in a.names:
        x, y = a.columns[name], b.columns[name]
        if x.dtype.kind == "f":
            assert np.array_equal(x, y, equal_nan=True), name
        else:
            assert x.tolist() == y.tolist(), name


def test_the_heads_types_give_what_inference_gives(tmp_path, monkeypatch) -> None:
    path = mixed_csv(tmp_path / "mixed.csv")
    decided = []
    head_types = frames._head_types
    with monkeypatch.context() as m:
        m.setattr(frames, "_head_types", lambda *a: decided.append(head_types(*a)) or decided[-1])
        declared = read_csv(path)
    assert decided[0] is not None  # read with the head's types
    assert declared.kinds == {
        "i": "integer",
        "f": "number",
        "b": "bool",
        "w": "string",
        "t": "datetime",
        "gap": "integer",
    }
    same(declared, inferring(path, monkeypatch))


@pytest.mark.parametrize(
    ("tail", "kinds"),
    [
        ("2.5,1,true,x,2026-01-01T00:00:00Z,\n", {"i": "number"}),  # a fraction after whole numbers
        ("seven,1,true,x,2026-01-01T00:00:00Z,\n", {"i": "string"}),  # text after numbers
        # missing and truth words spelt unusually: the declared read knows the usual spellings
        ("nULL,1,yEs,x,2026-01-01T00:00:00Z,\n", {"i": "integer", "b": "bool"}),
        # an integer float64 cannot hold (it would round to 2**53): text, digit for digit
        ("9007199254740993,1,true,x,2026-01-01T00:00:00Z,\n", {"i": "string"}),
        ("-9007199254740993,1,true,x,2026-01-01T00:00:00Z,\n", {"i": "string"}),
        ("1,1,maybe,x,2026-01-01T00:00:00Z,\n", {"b": "string"}),
        ("1,1,true,x,2026-01-01T00:00:00Z,4.5\n", {"gap": "number"}),
        ("1,1,true,x,2026-01-01T00:00:00Z,4\n", None),  # no value in the head at all
    ],
)
def test_a_late_row_that_does_not_fit_is_read_as_before(tmp_path, monkeypatch, tail, kinds):
    path = mixed_csv(tmp_path / "late.csv", tail, gaps_only=kinds is None)
    kinds = kinds or {"gap": "integer"}
    got = read_csv(path)
    assert got.rows == ROWS + 1
    assert {n: got.kinds[n] for n in kinds} == kinds
    same(got, inferring(path, monkeypatch))


def test_a_scan_in_small_blocks_reads_what_a_whole_read_reads(tmp_path, monkeypatch) -> None:
    """Quoted values with line breaks and doubled quotes, anywhere a block might end, and
    the head's types declared: the scan's batches hold the rows a whole-file read holds."""
    from lookout.scheduler.frame import scan_table

    rng = np.random.default_rng(5)
    texts = ["plain", 'say ""hi""', "two\nlines", "a,b", '""', "x\n\ny", 'end ""\n""']
    lines = ["n,t,x"]
    for k in range(ROWS // 4):
        t = texts[rng.integers(len(texts))]
        lines.append(
            f'{k},"{t}",{rng.normal():.6f}'
            if '"' in t or "\n" in t or "," in t
            else f"{k},{t},{rng.normal():.6f}"
        )
    path = tmp_path / "quoted.csv"
    path.write_text("\n".join(lines) + "\n")
    whole = read_csv(path)
    monkeypatch.setattr(frames, "_CSV_BLOCK", 4096)  # blocks of a few hundred rows
    parts = list(scan_table(path, batch_rows=100))
    assert len(parts) > 20 and sum(p.rows for p in parts) == whole.rows == ROWS // 4
    for name in whole.names:
        joined = np.concatenate([p.columns[name] for p in parts])
        assert joined.tolist() == whole.columns[name].tolist(), name


@pytest.mark.parametrize("where", ["header", "second line", "far down"])
@pytest.mark.parametrize("large", [False, True])
def test_text_that_is_not_utf8_anywhere_is_one_line(tmp_path, monkeypatch, large, where):
    """Read the inferring way (text of few values comes dictionary-encoded) or with the
    head's types, a value that is not UTF-8 is one line, no traceback: in the header (which
    is read on its own), in the first rows, or after the first block."""
    if not large:
        monkeypatch.setattr(frames, "DECLARE_FROM", 1 << 40)
    body = [b"%d,cafe,%d\n" % (i, i % 3) for i in range(ROWS * 2)]
    header = b"n,word,k\n"
    if where == "header":
        header = b"n,w\xe9rd,k\n"
    elif where == "second line":
        body[1] = b"1,caf\xe9,1\n"
    else:
        body.append(b"1,caf\xe9,1\n")
    path = tmp_path / "latin1.csv"
    path.write_bytes(header + b"".join(body))
    with pytest.raises(frames.DataError) as caught:
        read_csv(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and "UTF" in message.upper() and "\n" not in message

"""The one sanitizer: untrusted text becomes inert, printable text."""

from __future__ import annotations

import sys
import unicodedata

from hypothesis import given
from hypothesis import strategies as st
from lookout.storage.text import sanitize

HOSTILE = [
    ("\x1b[31mred\x1b[0m", "red"),
    ("\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\", "click"),
    ("\x1b]52;c;aGVsbG8=\x07copied", "copied"),
    ("\x1b]0;new title\x07x", "x"),
    ("\x1bP1$tdata\x1b\\y", "y"),
    ("\x9b31mz", "z"),
    ("a\x00b\x07c\x08d", "abcd"),
    ("keep\ttabs\nand lines", "keep\ttabs\nand lines"),
    ("[bold]not markup[/bold]", "[bold]not markup[/bold]"),
    ("\x1b[2J\x1b[Hwiped", "wiped"),
    ("cr\r\nlf", "cr\nlf"),
    ("trailing escape \x1b", "trailing escape "),
    ("unterminated osc \x1b]8;;http://x", "unterminated osc "),
]


def test_hostile_sequences_are_removed() -> None:
    for raw, clean in HOSTILE:
        assert sanitize(raw) == clean, raw


def test_limit_and_single_line() -> None:
    assert sanitize("abcdef", 4) == "abc…"
    assert sanitize("a\n  b\tc", single_line=True) == "a b c"
    assert sanitize(42) == "42"


@given(st.text(alphabet=st.characters(codec="utf-8")))
def test_no_control_character_survives(text: str) -> None:
    out = sanitize(text)
    assert not any((ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F for c in out)


def test_bidi_and_zero_width_characters_are_removed() -> None:
    # an override that shows "txt.exe" as "exe.txt", and the invisible characters that
    # make two names look alike or shift a console's columns
    assert sanitize("report\u202eexe.txt") == "reportexe.txt"
    for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c":
        assert sanitize(f"a{c}b") == "ab", hex(ord(c))
    for c in "\u200b\u200c\u200d\u2060\ufeff\u00ad":
        assert sanitize(f"a{c}b", single_line=True) == "ab", hex(ord(c))
    assert sanitize("tag\U000e0041\U000e007fs") == "tags"  # invisible "tag" letters


def test_every_format_character_is_removed() -> None:
    """The table of format characters in text.py covers Unicode's whole Cf category."""
    cf = [chr(cp) for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)) == "Cf"]
    assert sanitize("".join(cf)) == ""


def test_line_separators_break_lines_and_lone_surrogates_go() -> None:
    assert sanitize("a\u2028b\u2029c") == "a\nb\nc"
    assert sanitize("a\u2028b", single_line=True) == "a b"
    out = sanitize("bad\udcffbyte")  # what an undecodable byte of argv becomes
    assert out == "badbyte" and out.encode("utf-8")

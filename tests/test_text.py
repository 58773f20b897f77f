"""The one sanitizer: untrusted text becomes inert, printable text."""

from __future__ import annotations

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

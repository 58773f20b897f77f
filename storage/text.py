"""The one sanitizer for untrusted text (names, tags, log lines, error messages).

It removes escape sequences (CSI, OSC, DCS, SOS/PM/APC and two-byte ESC forms)
and every other C0/C1 control except newline and tab, so nothing read from
data can move the cursor, retitle the terminal or smuggle a hyperlink. The
result is plain text: the console renders it with `rich.text.Text`, never as
markup.
"""

from __future__ import annotations

import re

# ESC [ ... final byte; ESC ] ... BEL/ST; ESC P/X/^/_ ... ST; 8-bit CSI/OSC/DCS forms too.
_ESCAPES = re.compile(
    r"""
    (?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?             # CSI
  | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])       # OSC, DCS, SOS, PM, APC ...
        .*?(?:\x07|\x1b\\|\x9c|$)                 # ... up to BEL or ST (or the end)
  | \x1b[ -/]*[0-~]?                             # other ESC sequences
    """,
    re.VERBOSE | re.DOTALL,
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def sanitize(text: object, limit: int | None = None, *, single_line: bool = False) -> str:
    """Printable text only; cut to `limit` characters with an ellipsis."""
    s = text if isinstance(text, str) else str(text)
    if s.isprintable():  # the common case: nothing to strip (ESC is not printable)
        return s if limit is None or len(s) <= limit else s[: max(limit - 1, 0)] + "…"
    s = _ESCAPES.sub("", s)
    s = s.replace("\r\n", "\n")
    s = _CONTROLS.sub("", s)
    if single_line:
        s = " ".join(s.split())
    if limit is not None and len(s) > limit:
        s = s[: max(limit - 1, 0)] + "…"
    return s

"""The one sanitizer for untrusted text (names, tags, log lines, error messages).

It removes escape sequences (CSI, OSC, DCS, SOS/PM/APC and two-byte ESC forms),
every other C0/C1 control except newline and tab, and the invisible format
characters (Unicode category Cf: bidi embeddings, overrides and isolates,
zero-width spaces and joiners, the byte-order mark, tag characters), so nothing
read from data can move the cursor, retitle the terminal, smuggle a hyperlink,
reorder what is shown or shift a table's columns. Line and paragraph separators
become newlines; lone surrogates (undecodable bytes) are dropped, so the result
can always be encoded. The result is plain text: the console renders it with
`rich.text.Text`, never as markup.
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
# C0 and C1 controls but newline and tab; the format characters (Cf, Unicode 15);
# lone surrogates.
_CONTROLS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
    "\ud800-\udfff]"
)
_SEPARATORS = str.maketrans({"\u2028": "\n", "\u2029": "\n"})


def sanitize(text: object, limit: int | None = None, *, single_line: bool = False) -> str:
    """Printable text only; cut to `limit` characters with an ellipsis."""
    s = text if isinstance(text, str) else str(text)
    if s.isprintable():  # the common case: nothing to strip (ESC, Cf, Zl are not printable)
        return s if limit is None or len(s) <= limit else s[: max(limit - 1, 0)] + "…"
    s = _ESCAPES.sub("", s)
    s = s.replace("\r\n", "\n").translate(_SEPARATORS)
    s = _CONTROLS.sub("", s)
    if single_line:
        s = " ".join(s.split())
    if limit is not None and len(s) > limit:
        s = s[: max(limit - 1, 0)] + "…"
    return s

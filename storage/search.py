"""Search: "has this happened before?" across events, stage logs, failing checks and the audit.

The index is SQLite FTS5 (`search` over `search_docs`, schema V6). Triggers on
the tables the documents come from keep it current, so whoever writes a row
(the scheduler, a CLI command, the SDK, retention deleting old rows) updates
search in the same transaction; nothing here writes. Plain FTS5 SQL: the
storage room imports only the standard library, and the documents come from
four differently shaped tables, which sqlite-utils' one-table FTS helper does
not fit.

Words are matched whole (case and accents ignored); a word ending in `*`
matches as a prefix; "quoted words" match as a phrase. Every word must match,
in the subject or the text. Hits come newest first: document ids grow as
documents are written, so the query walks the index backwards and stops after
a few times `limit` matches instead of ranking every match.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from lookout.storage.db import Store
from lookout.storage.text import sanitize

KINDS = ("event", "log", "check", "audit")
EXCERPT = 200  # characters of the matching line shown
LINES_TRIED = 50  # lines holding a word that are checked for the others
CANDIDATES = 4  # newest-written matches read per hit returned, then ordered by time
# a quoted phrase, or a run of anything but spaces and quotes
_TERMS = re.compile(r'"([^"]*)"|([^\s"]+)')
_WORD = re.compile(r"\w+")


class SearchError(ValueError):
    """A query that cannot be searched; the message is one line for the user."""


@dataclass(frozen=True)
class Hit:
    """One document that matched: what it is, which row it names, and the text around the match.

    `id` is what a person opens: the event id, the run id for a stage log, the
    check result id, the audit entry's sequence number.
    """

    kind: str  # event | log | check | audit
    id: int
    at: float
    subject: str  # the pipeline run and stage, the dataset.check, the model, the event subject
    text: str


def fts_query(text: str) -> str:
    """The FTS5 query for what a person typed: every word (or "phrase") must match.

    Each word is quoted, so FTS5's own syntax (AND, NEAR, column filters,
    parentheses) in the text is searched for, never interpreted.
    """
    parts = []
    for phrase, word in _TERMS.findall(text):
        prefix = word.endswith("*")
        tokens = _WORD.findall(phrase or word)
        if not tokens:
            continue
        quoted = '"' + " ".join(tokens) + '"'
        parts.append(quoted + ("*" if prefix and not phrase else ""))
    if not parts:
        raise SearchError(f"nothing to search for in {text!r}: give at least one word")
    return " AND ".join(parts)


def search(store: Store, text: str, limit: int = 50) -> list[Hit]:
    """Documents matching every word of `text`, newest first, at most `limit`.

    The index hands over the `CANDIDATES × limit` most recently written
    matches (walking backwards, so a common word costs no more than a rare
    one); those are ordered by when they happened, which differs from the
    order they were written only for history recorded after the fact.
    """
    query = fts_query(text)
    conn = store.conn
    try:
        rows = conn.execute(
            "SELECT d.id, d.kind, d.item, d.at, d.subject FROM (SELECT rowid AS id FROM search"
            " WHERE search MATCH ? ORDER BY rowid DESC LIMIT ?) m JOIN search_docs d ON"
            " d.id = m.id ORDER BY d.at DESC, d.id DESC LIMIT ?",
            (query, limit * CANDIDATES, limit),
        ).fetchall()
    except sqlite3.OperationalError as exc:  # a query FTS5 still refuses
        raise SearchError(f"cannot search for {text!r}: {exc}") from None
    # the (long) texts only of the documents shown
    ids = [r[0] for r in rows]
    texts = dict(
        conn.execute(
            f"SELECT id, text FROM search_docs WHERE id IN ({','.join('?' * len(ids))})", ids
        ).fetchall()
    )
    terms = _terms(text)
    return [
        Hit(
            kind=r[1],
            id=int(r[2]),
            at=float(r[3]),
            subject=sanitize(r[4], 200, single_line=True),
            text=sanitize(excerpt(texts[r[0]], terms), EXCERPT, single_line=True),
        )
        for r in rows
    ]


def _fold(text: str) -> str:
    """Lower case without accents, as the index compares words."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class _Term:
    """One typed word or phrase, found in folded text as a whole word (a prefix for `w*`).

    The pattern starts with the word itself, so the regex engine scans for it at C
    speed; the word boundary before it is checked by hand on the few places it finds.
    """

    def __init__(self, tokens: list[str], prefix: bool):
        end = "" if prefix else r"(?!\w)"
        self.pattern = re.compile(r"\W+".join(map(re.escape, tokens)) + end)

    def finditer(self, text: str, start: int = 0, end: int | None = None) -> Iterator[int]:
        """Where the word starts, each time it does."""
        for m in self.pattern.finditer(text, start, len(text) if end is None else end):
            i = m.start()
            if i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_"):
                yield i

    def within(self, text: str, start: int, end: int) -> bool:
        return next(self.finditer(text, start, end), None) is not None


def _terms(text: str) -> list[_Term]:
    """What a person typed, one term per word or phrase, over folded text."""
    out = []
    for phrase, word in _TERMS.findall(text):
        tokens = _WORD.findall(_fold(phrase or word))
        if tokens:
            out.append(_Term(tokens, word.endswith("*") and not phrase))
    return out


def excerpt(text: str, terms: list[_Term]) -> str:
    """The line of a document that shows why it matched: the first holding every word (a
    log's matching line, not its first), else the first holding its rarest word; cut
    around the match. Only lines holding the document's rarest word are looked at."""
    folded = _fold(text)
    counts = [(sum(1 for _ in t.finditer(folded)), i) for i, t in enumerate(terms)]
    present = [c for c in counts if c[0]]
    at = 0
    if present:
        rarest = terms[min(present)[1]]
        for n, i in enumerate(rarest.finditer(folded)):
            start = folded.rfind("\n", 0, i) + 1
            end = folded.find("\n", i)
            end = len(folded) if end < 0 else end
            if n == 0:
                at = start
            if all(t.within(folded, start, end) for t in terms):
                at = start
                break
            if n >= LINES_TRIED:
                break
    shown = text.split("\n")[folded.count("\n", 0, at)]
    if len(shown) <= EXCERPT:
        return shown
    folded_line = _fold(shown)
    hit = min((next(t.finditer(folded_line), 0) for t in terms), default=0)
    start = max(0, min(hit - EXCERPT // 3, len(shown) - EXCERPT))
    return ("…" if start else "") + shown[start : start + EXCERPT]


def indexed(store: Store) -> dict[str, int]:
    """How many documents of each kind search holds."""
    rows = store.conn.execute("SELECT kind, count(*) FROM search_docs GROUP BY kind").fetchall()
    counts = dict.fromkeys(KINDS, 0)
    counts.update({r[0]: int(r[1]) for r in rows})
    return counts

"""Search: "has this happened before?" across events, stage logs, failing checks and the audit.

The index is SQLite FTS5 (`search` over `search_docs`, schema V5). Triggers on
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
from dataclasses import dataclass

from lookout.storage.db import Store
from lookout.storage.text import sanitize

KINDS = ("event", "log", "check", "audit")
SNIPPET_TOKENS = 24
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
        snippets = _snippets(conn, query, [int(r[0]) for r in rows])
    except sqlite3.OperationalError as exc:  # a query FTS5 still refuses
        raise SearchError(f"cannot search for {text!r}: {exc}") from None
    return [
        Hit(
            kind=r[1],
            id=int(r[2]),
            at=float(r[3]),
            subject=sanitize(r[4], 200, single_line=True),
            text=sanitize(snippets.get(int(r[0]), ""), 400, single_line=True),
        )
        for r in rows
    ]


def _snippets(conn: sqlite3.Connection, query: str, ids: list[int]) -> dict[int, str]:
    """The text around the match in each chosen document (one indexed lookup each)."""
    out = {}
    for doc in ids:
        row = conn.execute(
            f"SELECT snippet(search, 1, '', '', '…', {SNIPPET_TOKENS}) FROM search"
            " WHERE search MATCH ? AND rowid = ?",
            (query, doc),
        ).fetchone()
        out[doc] = row[0] if row else ""
    return out


def indexed(store: Store) -> dict[str, int]:
    """How many documents of each kind search holds."""
    rows = store.conn.execute("SELECT kind, count(*) FROM search_docs GROUP BY kind").fetchall()
    counts = dict.fromkeys(KINDS, 0)
    counts.update({r[0]: int(r[1]) for r in rows})
    return counts

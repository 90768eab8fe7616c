"""The store's SQL as psycopg takes it: placeholders only, translated once per statement text.

The store's SQL is one text for both engines: the subset SQLite (3.40+) and PostgreSQL both accept
(``INSERT ... ON CONFLICT DO NOTHING``, ``IS [NOT] DISTINCT FROM``, ``RETURNING``, ``->>``); the few
real differences are on the dialect (storage/dialect.py). Nothing of one dialect is rewritten into
the other here. What is left is the parameters' notation, which the drivers differ in:

- ``?``, ``?N`` and ``:name`` (sqlite3's) -> ``%s`` / ``%(name)s`` (psycopg's); a ``?N`` used twice is
  sent twice: the statement's ``order`` says which argument goes where;
- every literal ``%`` -> ``%%``: psycopg formats the whole text, string literals and comments too, and
  the statement is always formatted (``Statement.args`` never gives None), so the server gets the
  text as written.

The text is split into tokens (string literals, quoted identifiers, comments, placeholders, words):
a ``?`` or ``:name`` in a literal or a comment is not a placeholder, and a quote in a comment opens
no literal. SQLite's own forms that PostgreSQL does not take (``INSERT OR IGNORE``, ``a IS b``,
``BEGIN IMMEDIATE``) are refused with the portable form to write instead (``SqliteOnly``), rather
than rewritten: the statement is then wrong on SQLite's tests already.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(
    r"""(?P<str>'(?:[^']|'')*'?)"""  # a string literal ('' inside); unterminated: to the end
    r"""|(?P<ident>"(?:[^"]|"")*"?)"""  # a quoted identifier
    r"""|(?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))"""  # a line or block comment
    r"""|(?P<num>\?(?P<n>[0-9]+))"""  # ?N
    r"""|(?P<q>\?)"""  # ?
    r"""|(?P<cast>::)"""  # PostgreSQL's cast (in PostgreSQL-only statements): not a :name
    r"""|(?P<named>:(?P<name>[A-Za-z_][A-Za-z0-9_]*))"""  # :name
    r"""|(?P<word>[A-Za-z_][A-Za-z0-9_$]*)"""  # a keyword or a name
    r"""|(?P<pct>%)""",
    re.DOTALL,
)

# After IS / IS NOT, what PostgreSQL takes (IS NULL, IS TRUE, IS DISTINCT FROM, IS JSON, ...).
_IS_OPERANDS = frozenset({"NULL", "TRUE", "FALSE", "UNKNOWN", "DISTINCT", "JSON", "DOCUMENT", "NORMALIZED"})


class SqliteOnly(ValueError):
    """A statement in a form only SQLite takes; the message says what both engines accept."""


@dataclass(frozen=True)
class Statement:
    sql: str
    order: tuple[int, ...] | None  # for ?N: which argument (0-based) each %s takes; None: as given
    named: bool  # :name placeholders: the arguments are a mapping

    def args(self, params: Sequence[Any] | Mapping[str, Any] | None) -> Sequence[Any] | Mapping[str, Any]:
        """The arguments as psycopg takes them; never None, so that ``%%`` always reads as ``%``."""
        if params is None:
            return {} if self.named else ()
        if self.named or self.order is None:
            return params
        assert not isinstance(params, Mapping)
        return [params[i] for i in self.order]


def _refuse(words: list[str], sql: str) -> None:
    """Refuse SQLite's own forms (``words``: the statement's keywords and names, upper case, in order)."""
    for i, w in enumerate(words):
        after = words[i + 1] if i + 1 < len(words) else ""
        if w == "INSERT" and after == "OR":
            raise SqliteOnly(
                f"INSERT OR ... is SQLite's: write INSERT ... ON CONFLICT DO NOTHING (or DO UPDATE): {sql}"
            )
        if w == "BEGIN" and after in {"IMMEDIATE", "EXCLUSIVE", "DEFERRED"}:
            raise SqliteOnly(f"BEGIN {after} is SQLite's: the dialect's begin_write says how to begin: {sql}")
        if w == "IS":
            operand = words[i + 2] if after == "NOT" and i + 2 < len(words) else after
            if operand not in _IS_OPERANDS:
                raise SqliteOnly(f"a IS [NOT] b is SQLite's: write a IS [NOT] DISTINCT FROM b: {sql}")


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> Statement:
    out: list[str] = []
    order: list[int] = []
    words: list[str] = []
    numbered = plain = named = False
    pos = 0
    for m in _TOKEN.finditer(sql):
        out.append(sql[pos : m.start()])
        pos = m.end()
        token = m.group(0)
        if m["num"]:
            numbered = True
            order.append(int(m["n"]) - 1)
            out.append("%s")
            words.append("?")
        elif m["q"]:
            plain = True
            order.append(len(order))
            out.append("%s")
            words.append("?")
        elif m["named"]:
            named = True
            out.append(f"%({m['name']})s")
            words.append("?")
        elif m["word"]:
            words.append(token.upper())
            out.append(token)
        elif m["str"] or m["ident"]:
            words.append(token)  # an operand, never a keyword
            out.append(token.replace("%", "%%"))
        else:  # a comment, a literal %, ::
            out.append(token.replace("%", "%%"))
    out.append(sql[pos:])
    if sum((numbered, plain, named)) > 1:
        raise ValueError(f"placeholders of more than one style in one statement: {sql}")
    _refuse(words, sql)
    return Statement("".join(out), tuple(order) if numbered else None, named)

"""The store's SQL (SQLite's dialect) as PostgreSQL takes it, translated once per statement text.

The repositories keep one text per statement; where both engines accept the same SQL, the call site
uses it (``RETURNING id`` rather than ``lastrowid``, ``ORDER BY id`` rather than ``rowid``). What is
left is translated here, by a small tokenizer rather than a full parser (sqlglot was considered: it
is not a dependency, and the handful of rewrites below do not need a parse tree):

- placeholders ``?``, ``?N`` and ``:name`` -> psycopg's ``%s`` / ``%(name)s`` (a ``?N`` used twice is
  sent twice: the statement's ``order`` says which argument goes where); a literal ``%`` -> ``%%``;
- ``INSERT OR IGNORE INTO ...`` -> ``INSERT INTO ... ON CONFLICT DO NOTHING``;
- ``a IS NOT b`` / ``a IS b`` (SQLite's null-safe comparisons) -> ``IS [NOT] DISTINCT FROM``;
- ``json_extract(col, '$.key')`` -> ``(col::json ->> 'key')``;
- ``temp.`` (SQLite's schema of temporary tables) -> ``pg_temp.``; ``BEGIN IMMEDIATE`` -> ``BEGIN``.

Quoted text ('...', "...") is never rewritten.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(
    r"""(?P<str>'(?:[^']|'')*')"""
    r"""|(?P<ident>"(?:[^"]|"")*")"""
    r"""|(?P<num>\?(?P<n>[0-9]+))"""
    r"""|(?P<q>\?)"""
    r"""|(?P<cast>::)"""
    r"""|(?P<named>:(?P<name>[A-Za-z_][A-Za-z0-9_]*))"""
    r"""|(?P<pct>%)"""
)
_OR_IGNORE = re.compile(r"\bINSERT\s+OR\s+IGNORE\s+INTO\b", re.IGNORECASE)
_IS_NOT = re.compile(r"\bIS\s+NOT\s+(?!NULL\b|TRUE\b|FALSE\b|DISTINCT\b)", re.IGNORECASE)
_IS = re.compile(r"\bIS\s+(?!NOT\b|NULL\b|TRUE\b|FALSE\b|DISTINCT\b)", re.IGNORECASE)
_JSON_EXTRACT = re.compile(r"\bjson_extract\(\s*([A-Za-z_][A-Za-z0-9_.]*)\s*,\s*'\$\.([A-Za-z_][A-Za-z0-9_]*)'\s*\)")
_TEMP = re.compile(r"\btemp\.", re.IGNORECASE)
_BEGIN_IMMEDIATE = re.compile(r"^\s*BEGIN\s+IMMEDIATE\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Statement:
    sql: str
    order: tuple[int, ...] | None  # for ?N: which argument (0-based) each %s takes; None: as given
    named: bool  # :name placeholders: the arguments are a mapping

    def args(self, params: Sequence[Any] | Mapping[str, Any] | None) -> Sequence[Any] | Mapping[str, Any] | None:
        if params is None or self.named or self.order is None:
            return params
        assert not isinstance(params, Mapping)
        return [params[i] for i in self.order]


def _outside_quotes(sql: str, fn: Any) -> str:
    """Apply ``fn`` to the parts of ``sql`` outside quoted text."""
    parts = re.split(r"""('(?:[^']|'')*'|"(?:[^"]|"")*")""", sql)
    return "".join(p if i % 2 else fn(p) for i, p in enumerate(parts))


def _rewrite(sql: str) -> str:
    if _BEGIN_IMMEDIATE.match(sql):
        return "BEGIN"
    # json_extract's path is quoted text: rewrite it before the quotes are protected.
    sql = _JSON_EXTRACT.sub(lambda m: f"({m[1]}::json ->> '{m[2]}')", sql)
    ignore = bool(_OR_IGNORE.search(sql))
    sql = _outside_quotes(
        sql,
        lambda s: _TEMP.sub("pg_temp.", _IS.sub("IS NOT DISTINCT FROM ", _IS_NOT.sub("IS DISTINCT FROM ", s))),
    )
    if ignore:
        sql = _OR_IGNORE.sub("INSERT INTO", sql).rstrip().rstrip(";") + " ON CONFLICT DO NOTHING"
    return sql


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> Statement:
    sql = _rewrite(sql)
    out: list[str] = []
    order: list[int] = []
    numbered = plain = named = False
    pos = 0
    for m in _TOKEN.finditer(sql):
        out.append(sql[pos : m.start()])
        pos = m.end()
        if m["num"]:
            numbered = True
            order.append(int(m["n"]) - 1)
            out.append("%s")
        elif m["q"]:
            plain = True
            order.append(len(order))
            out.append("%s")
        elif m["named"]:
            named = True
            out.append(f"%({m['name']})s")
        elif m["pct"]:
            out.append("%%")
        else:
            out.append(m.group(0))
    out.append(sql[pos:])
    if sum((numbered, plain, named)) > 1:
        raise ValueError(f"placeholders of more than one style in one statement: {sql}")
    return Statement("".join(out), tuple(order) if numbered else None, named)

"""The placeholders' translation for psycopg (storage/pg/translate.py): the issue's three inputs, and
what both engines then do with the statements the store may send."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from storage.pg.adapter import PgConnection
from storage.pg.translate import SqliteOnly, translate

BOTH_ENGINES = True  # the `engine` fixture: each statement runs on SQLite and on PostgreSQL


def sent(sql: str, params: Any = None) -> str:
    """The text psycopg sends for ``sql`` (its client-side formatting of the translation)."""
    st = translate(sql)
    return st.sql % tuple("<arg>" for _ in st.args(params))


# -- the three inputs ------------------------------------------------------------------------


def test_a_percent_in_a_like_literal_reaches_the_server_as_written() -> None:
    sql = "SELECT id FROM t WHERE name LIKE 'a%' AND id = ?"
    assert translate(sql).sql == "SELECT id FROM t WHERE name LIKE 'a%%' AND id = %s"
    assert sent(sql, (1,)) == "SELECT id FROM t WHERE name LIKE 'a%' AND id = <arg>"


def test_insert_or_ignore_with_returning_is_refused_with_the_form_both_engines_take() -> None:
    with pytest.raises(SqliteOnly, match="ON CONFLICT DO NOTHING"):
        translate("INSERT OR IGNORE INTO t (id, name) VALUES (?, ?) RETURNING id")
    portable = "INSERT INTO t (id, name) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING id"
    assert translate(portable).sql == "INSERT INTO t (id, name) VALUES (%s, %s) ON CONFLICT DO NOTHING RETURNING id"


def test_a_comment_is_never_rewritten() -> None:
    sql = "SELECT 1 -- this IS it: what's 100% ? :x\nWHERE 1 = ?"
    assert sent(sql, (1,)) == "SELECT 1 -- this IS it: what's 100% ? :x\nWHERE 1 = <arg>"
    block = "SELECT /* is it? 'yes' */ ? /* 5% */"
    assert sent(block, (1,)) == "SELECT /* is it? 'yes' */ <arg> /* 5% */"


# -- placeholders ------------------------------------------------------------------------------------


def test_placeholders_outside_literals_identifiers_and_comments() -> None:
    assert translate("SELECT '?', \"a?b\", ? FROM t").sql == "SELECT '?', \"a?b\", %s FROM t"
    st = translate("SELECT ?2, ?1, ?2")
    assert st.sql == "SELECT %s, %s, %s" and list(st.args(("a", "b"))) == ["b", "a", "b"]
    st = translate("SELECT :a, 'it''s :b', x::text")
    assert st.sql == "SELECT %(a)s, 'it''s :b', x::text" and st.named
    with pytest.raises(ValueError, match="more than one style"):
        translate("SELECT ?, :a")


def test_a_statement_without_parameters_is_formatted_too() -> None:
    # psycopg leaves a statement sent with no arguments alone: %% would reach the server as %%.
    assert translate("SELECT '%'").args(None) == ()
    assert sent("SELECT '100%'") == "SELECT '100%'"


def test_sqlite_only_forms_are_refused() -> None:
    for sql in (
        "INSERT OR REPLACE INTO t VALUES (1)",
        "SELECT 1 WHERE a IS ?",
        "SELECT 1 WHERE a IS NOT b",
        "BEGIN IMMEDIATE",
    ):
        with pytest.raises(SqliteOnly):
            translate(sql)
    for sql in (
        "SELECT 1 WHERE a IS NULL AND b IS NOT NULL AND c IS NOT TRUE",
        "SELECT 1 WHERE a IS DISTINCT FROM ? AND b IS NOT DISTINCT FROM ?",
        "SELECT 'a IS b' -- c IS d",
    ):
        translate(sql)


# -- on both engines ---------------------------------------------------------------------------------


@pytest.fixture
def db(engine: str, request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Any]:
    """A table t (id, name unique) with (1, 'abc'), (2, 'xyz'): on SQLite, and on PostgreSQL through
    the store's adapter (the translation)."""
    if engine == "postgresql":
        conn: Any = PgConnection(str(request.getfixturevalue("pg_url")))
    else:
        conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    conn.execute("CREATE TABLE t (id integer PRIMARY KEY, name text UNIQUE, v double precision)")
    conn.execute("INSERT INTO t (id, name, v) VALUES (1, 'abc', 1.5), (2, 'xyz', NULL)")
    try:
        yield conn
    finally:
        conn.close()


def test_like_with_a_percent_and_a_parameter(db: Any) -> None:
    rows = db.execute("SELECT id FROM t WHERE name LIKE 'a%' AND id > ? ORDER BY id", (0,)).fetchall()
    assert [tuple(r) for r in rows] == [(1,)]
    assert db.execute("SELECT '100%'").fetchone()[0] == "100%"


def test_insert_on_conflict_do_nothing_returning(db: Any) -> None:
    sql = "INSERT INTO t (id, name) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING id"
    assert db.execute(sql, (3, "new")).fetchone()[0] == 3
    assert db.execute(sql, (4, "abc")).fetchone() is None  # the name is taken: nothing, no error


def test_a_comment_with_quotes_and_question_marks(db: Any) -> None:
    sql = "SELECT id -- what's this IS it? 100%\nFROM t WHERE id = ? /* or ?'s */"
    assert db.execute(sql, (2,)).fetchone()[0] == 2


def test_null_safe_comparison(db: Any) -> None:
    sql = "SELECT id FROM t WHERE v IS DISTINCT FROM ? ORDER BY id"
    assert [r[0] for r in db.execute(sql, (None,)).fetchall()] == [1]
    assert [r[0] for r in db.execute(sql, (1.5,)).fetchall()] == [2]

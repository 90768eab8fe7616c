"""The connection the writer's operations are written against: what both engines' writing connections
offer (sqlite3's own, storage/dialect.py's ``SqliteConnection``; storage/pg/adapter.py's
``PgConnection``), so that mypy checks every operation against both, not against sqlite3 alone."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

Params = Sequence[Any] | Mapping[str, Any]


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    def execute(self, sql: str, params: Params = ..., /) -> Cursor: ...

    def executemany(self, sql: str, seq: Iterable[Params], /) -> Cursor: ...

    def commit(self) -> None: ...

    def close(self) -> None: ...

    @property
    def in_transaction(self) -> bool: ...

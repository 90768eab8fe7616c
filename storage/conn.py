"""The connection the writer's operations are written against: what both engines' writing connections
offer (sqlite3's own, storage/dialect.py's ``SqliteConnection``; storage/pg/adapter.py's
``PgConnection``), so that mypy checks every operation against both, not against sqlite3 alone."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterable, Iterator, Mapping, Sequence
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


class ReadCursor(Protocol):
    async def fetchone(self) -> Any: ...

    async def fetchall(self) -> Iterable[Any]: ...

    def __aiter__(self) -> AsyncIterator[Any]: ...


class ReadResult(Protocol):
    """What ``Reader.execute`` gives: awaited, or ``async with ... as cur``."""

    def __await__(self) -> Generator[Any, None, ReadCursor]: ...

    async def __aenter__(self) -> ReadCursor: ...

    async def __aexit__(self, *exc: Any) -> Any: ...


class Reader(Protocol):
    """The reading connection: aiosqlite's, or storage/pg/adapter.py's ``PgReader``."""

    def execute(self, sql: str, params: Params = ..., /) -> ReadResult: ...

    async def close(self) -> None: ...

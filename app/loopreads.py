"""Reads on the event loop: the one statement every authenticated request starts with (its API
key, and the client its path names), sent on a connection of the loop's own instead of through
the engine.

Why (issue 18, measured 2026-11-27 on the 2-core VM, one uvicorn process, wrk at 32
connections): on PostgreSQL, a FastAPI endpoint that sends one SELECT through psycopg's
asynchronous connection on the loop answers as many requests a second as a bare hello-world
(~4,600 vs ~4,200); the same SELECT through SQLAlchemy in the thread pool ~1,450, the handover
between the loop and a thread most of the difference. On SQLite the read already ran on the
loop, through a Session: ~120 us of CPU for a statement sqlite3 runs in ~10.

What stays the same: the statement is the one `app.auth.service` builds, compiled by SQLAlchemy
for the database (`db.prepare`, as `execute_many` sends statements), and each column's value
goes through the result processing the ORM applies (`UTCDateTime`). Nothing is cached: every
request reads the key as it is now, so a revocation from any process fails the very next
request. Reads only: the SQLite connection is `query_only`, the PostgreSQL ones run in
autocommit (one round trip, nothing held open).

On PostgreSQL a connection the server closed is discarded by psycopg's pool and the read tried
once more on another; when that fails as well, the caller takes the ordinary path through
SQLAlchemy, which answers a database outage as every other request does.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.sql import Select

from app.db import prepare

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

log = logging.getLogger("dpa.loopreads")
APPLICATION_NAME = "dpa-loop-reads"
CONNECTION_WAIT_SECONDS = 1.0


class LoopReadFailed(Exception):
    """The database could not be read this way (a closed connection, an outage): the caller
    reads through the engine instead, which answers an outage as every request does."""


class _Compiled:
    """A statement as the driver takes it, and each result column's conversion."""

    def __init__(self, statement: Select[Any], engine: Engine, keys: tuple[str, ...]) -> None:
        dialect = engine.dialect
        prepared = prepare(statement, dialect, keys)
        if prepared is None:
            raise ValueError("a statement shape the loop's reads do not take")
        self.prepared = prepared
        self.processors: list[Callable[[Any], Any] | None] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        ]

    def parameters(self, given: dict[str, Any]) -> Any:
        return self.prepared.parameters([given])[0]

    def row(self, values: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(
            value if process is None else process(value)
            for process, value in zip(self.processors, values, strict=True)
        )


class LoopReads(ABC):
    """Reads for one event loop (the one `open` runs on); `for_engine` picks the backend's."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._compiled: dict[tuple[int, tuple[str, ...]], tuple[Select[Any], _Compiled]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None

    @staticmethod
    def for_engine(engine: Engine, size: int) -> LoopReads | None:
        """None for an in-memory SQLite database (another connection would see another one)."""
        if engine.dialect.name == "postgresql":
            return _PostgresReads(engine, size)
        database = engine.url.database
        if engine.dialect.name == "sqlite" and database not in (None, "", ":memory:"):
            return _SqliteReads(engine, database)
        return None

    async def open(self) -> None:
        self.loop = asyncio.get_running_loop()

    async def close(self) -> None:
        self.loop = None

    def here(self) -> bool:
        """Whether the running loop is the one these reads belong to."""
        try:
            return self.loop is asyncio.get_running_loop()
        except RuntimeError:
            return False

    def _compile(self, statement: Select[Any], params: dict[str, Any]) -> _Compiled:
        # By identity: the callers' statements are built once (functools.cache); the statement
        # is kept with its compiled form, so an id is never reused while it is in here.
        keys = tuple(sorted(params))
        found = self._compiled.get((id(statement), keys))
        if found is None:
            compiled = _Compiled(statement, self._engine, keys)
            found = self._compiled[(id(statement), keys)] = (statement, compiled)
        return found[1]

    async def first(self, statement: Select[Any], params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The statement's first row, each value converted as the ORM would; None if none.
        Raises LoopReadFailed when the database could not be read this way."""
        compiled = self._compile(statement, params)
        row = await self._fetch(compiled.prepared.statement, compiled.parameters(params))
        return None if row is None else compiled.row(row)

    @abstractmethod
    async def _fetch(self, sql: str, parameters: Any) -> Sequence[Any] | None:
        """The first row of `sql` on the backend's own connection, values as the driver gives."""


class _SqliteReads(LoopReads):
    """One connection of its own, used on the loop only: in WAL mode a reader never waits for
    the writer, and each statement in autocommit is a read transaction of its own that sees
    every commit made before it."""

    def __init__(self, engine: Engine, database: str) -> None:
        super().__init__(engine)
        self._path = database
        self._connection: sqlite3.Connection | None = None

    async def open(self) -> None:
        await super().open()
        # mode=rw: never creates the file (the engine creates it, private to the service).
        target = f"file:{urllib.parse.quote(self._path)}?mode=rw"
        try:
            connection = sqlite3.connect(
                target, uri=True, isolation_level=None, check_same_thread=False
            )
        except sqlite3.OperationalError as exc:
            raise LoopReadFailed(f"{self._path}: {exc}") from exc
        connection.execute("PRAGMA query_only=ON")  # this connection never writes
        connection.execute("PRAGMA busy_timeout=5000")
        self._connection = connection

    async def close(self) -> None:
        await super().close()
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def _fetch(self, sql: str, parameters: Any) -> Sequence[Any] | None:
        if self._connection is None:
            raise LoopReadFailed("the loop's SQLite connection is closed")
        try:
            cursor = self._connection.execute(sql, parameters)
            try:
                row: Sequence[Any] | None = cursor.fetchone()
            finally:
                # A statement left mid-result keeps its read snapshot: later reads on this
                # connection would not see a revocation committed since. Closed, it is reset.
                cursor.close()
        except sqlite3.OperationalError as exc:
            raise LoopReadFailed(str(exc)) from exc
        return row


class _PostgresReads(LoopReads):
    """psycopg's asynchronous pool, next to the engine's. psycopg is imported here, not at the
    top: a process on SQLite never loads it (~10 MB)."""

    def __init__(self, engine: Engine, size: int) -> None:
        import psycopg
        from psycopg_pool import AsyncConnectionPool, PoolTimeout

        super().__init__(engine)
        self._closed: type[Exception] = psycopg.OperationalError
        self._no_connection: type[Exception] = PoolTimeout
        _args, params = engine.dialect.create_connect_args(engine.url)
        self._pool: AsyncConnectionPool = AsyncConnectionPool(
            # Named, for pg_stat_activity (and the tests that close them from the server side).
            kwargs={**params, "autocommit": True, "application_name": APPLICATION_NAME},
            min_size=1,
            max_size=size,
            # Requests never take more than `size` (their turns at the database), so a wait for
            # a connection is a wait for the pool to open one: a second is plenty when the
            # database is there, and when it is not the request goes to the engine's path (an
            # outage answered at once, not after psycopg_pool's default of 30 s).
            timeout=CONNECTION_WAIT_SECONDS,
            open=False,
            name="dpa-loop-reads",
        )

    async def open(self) -> None:
        await super().open()
        await self._pool.open(wait=False)

    async def close(self) -> None:
        await super().close()
        await self._pool.close()

    async def _fetch(self, sql: str, parameters: Any) -> Sequence[Any] | None:
        for attempt in (1, 2):
            try:
                async with self._pool.connection() as connection:
                    cursor = await connection.execute(sql, parameters)
                    row: Sequence[Any] | None = await cursor.fetchone()
                    return row
            except self._closed as exc:
                if attempt == 2 or isinstance(exc, self._no_connection):
                    raise LoopReadFailed(str(exc)) from exc
                # Closed by the server since its last use (a restart, an idle timeout): the
                # pool drops it; once more on another.
                log.warning("a read on the loop failed (%s); once more", type(exc).__name__)
        raise AssertionError("unreachable")

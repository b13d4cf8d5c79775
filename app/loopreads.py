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

On PostgreSQL a connection the server closed is dropped and the read tried once more on
another; when that fails as well, the caller takes the ordinary path through
SQLAlchemy, which answers a database outage as every other request does.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import anyio
from sqlalchemy import Engine
from sqlalchemy.sql import Select

from app.db import prepare

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
    """psycopg's asynchronous connections in autocommit, next to the engine's pool, kept in a
    list of idle ones: every read takes one, sends its statement and gives it back. psycopg is
    imported here, not at the top: a process on SQLite never loads it (~10 MB).

    Not psycopg_pool: under 32 concurrent requests its `connection()` (locks, a waiting queue,
    statistics, a status check on return) cost ~35 us of CPU a read on top of the ~80 the read
    takes (2026-11-28, 32 concurrent tasks on uvloop), and none of what it adds is needed
    here: a request reads inside its turn at the database (`AppContext.request_slots`, as many
    as `size`), so a read never waits for a connection, and a connection is checked by using it
    (one the server closed fails its read, is dropped, and the read goes once more on a new
    one). At most `size` are kept idle; a read beyond that (none is, today) opens one of its own
    and closes it after."""

    def __init__(self, engine: Engine, size: int) -> None:
        import psycopg

        super().__init__(engine)
        self._psycopg = psycopg
        _args, params = engine.dialect.create_connect_args(engine.url)
        # Named, for pg_stat_activity (and the tests that close them from the server side).
        self._params = {**params, "autocommit": True, "application_name": APPLICATION_NAME}
        self._size = size
        # Each idle connection with its cursor, kept (a cursor made per read was ~3 % of one).
        self._idle: list[tuple[psycopg.AsyncConnection[Any], psycopg.AsyncCursor[Any]]] = []

    async def close(self) -> None:
        await super().close()
        idle, self._idle = self._idle, []
        for connection, _cursor in idle:
            await connection.close()

    async def _connect(self) -> tuple[Any, Any]:
        """A new connection and its cursor, or LoopReadFailed after CONNECTION_WAIT_SECONDS:
        when PostgreSQL is down the request goes to the engine's path, which answers the outage
        at once."""
        try:
            async with asyncio.timeout(CONNECTION_WAIT_SECONDS):
                connection = await self._psycopg.AsyncConnection.connect(**self._params)
        except (TimeoutError, self._psycopg.OperationalError) as exc:
            raise LoopReadFailed(f"no connection to PostgreSQL: {exc!r}") from exc
        return connection, connection.cursor()

    async def _fetch(self, sql: str, parameters: Any) -> Sequence[Any] | None:
        if self.loop is None:  # not opened, or closed
            raise LoopReadFailed("the loop's PostgreSQL reads are closed")
        for attempt in (1, 2):
            connection, cursor = self._idle.pop() if self._idle else await self._connect()
            try:
                await cursor.execute(sql, parameters)
                row: Sequence[Any] | None = await cursor.fetchone()
            except self._psycopg.OperationalError as exc:
                await connection.close()
                if attempt == 2:
                    raise LoopReadFailed(str(exc)) from exc
                # Closed by the server since its last use (a restart, an idle timeout): once
                # more on another.
                log.warning("a read on the loop failed (%s); once more", type(exc).__name__)
                continue
            except BaseException:
                # Cancelled mid-read (a shutdown): its state is unknown, so closed, shielded
                # from the cancellation as app.routing ends a cancelled request's session.
                with anyio.CancelScope(shield=True):
                    await connection.close()
                raise
            if self.loop is not None and len(self._idle) < self._size:
                self._idle.append((connection, cursor))
            else:
                await connection.close()
            return row
        raise AssertionError("unreachable")

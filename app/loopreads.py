"""Reads on the event loop, on PostgreSQL: the one statement every authenticated request starts
with (its API key, and the client its path names), sent on an asynchronous psycopg connection
instead of a trip to the thread pool.

Why (issue 18, measured 2026-11-27 on the 2-core VM, one uvicorn process, wrk at 32
connections): a FastAPI endpoint that sends one SELECT through psycopg's asynchronous connection
on the loop answers as many requests a second as a bare hello-world (~4,600 vs ~4,200); the same
SELECT through SQLAlchemy in the thread pool answers ~1,450, and the handover between the loop
and a thread is most of the difference. SQLite needs none of this: its read runs on the loop
already (`app.db.short_read`).

What stays the same: the statement is the one `app.auth.service` builds, compiled by SQLAlchemy
for PostgreSQL, and each column's value goes through the same result processing the ORM applies
(`UTCDateTime`). Nothing is cached: every request reads the key as it is now, so a revocation
from any process fails the very next request. The connections run in autocommit (one round trip,
nothing held open) from psycopg's own pool, next to the engine's.

A connection the server closed is discarded by the pool and the read tried once more on
another; when that fails as well, the caller takes the ordinary path through SQLAlchemy, which
answers a database outage as every other request does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Engine
from sqlalchemy.sql import Select

log = logging.getLogger("dpa.loopreads")
APPLICATION_NAME = "dpa-loop-reads"


class _Compiled:
    """A statement as psycopg takes it: SQL text, its constant parameters, and each result
    column's conversion."""

    def __init__(self, statement: Select[Any], engine: Engine) -> None:
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        processors = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for bind, name in compiled.bind_names.items()
        }
        self.binds = {name: p for name, p in processors.items() if p is not None}
        # Values written in the statement (a role compared with a constant), as SQLAlchemy
        # sends them; the caller gives the rest.
        self.constants = {
            name: compiled.params[name]
            for bind, name in compiled.bind_names.items()
            if not bind.required
        }
        self.processors: list[Callable[[Any], Any] | None] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        ]

    def parameters(self, given: dict[str, Any]) -> dict[str, Any]:
        values = {**self.constants, **given}
        for name, process in self.binds.items():
            if values[name] is not None:
                values[name] = process(values[name])
        return values

    def row(self, values: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(
            value if process is None else process(value)
            for process, value in zip(self.processors, values, strict=True)
        )


class LoopReads:
    """psycopg's asynchronous pool for one event loop (the one `open` runs on)."""

    def __init__(self, engine: Engine, size: int) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("reads on the loop are for PostgreSQL; SQLite reads on the loop as is")
        _args, params = engine.dialect.create_connect_args(engine.url)
        self._engine = engine
        self._pool = AsyncConnectionPool(
            # Named, for pg_stat_activity (and the tests that close them from the server side).
            kwargs={**params, "autocommit": True, "application_name": APPLICATION_NAME},
            min_size=1,
            max_size=size,
            open=False,
            name="dpa-loop-reads",
        )
        self._compiled: dict[int, tuple[Select[Any], _Compiled]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None

    async def open(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self._pool.open(wait=False)

    async def close(self) -> None:
        await self._pool.close()
        self.loop = None

    def here(self) -> bool:
        """Whether the running loop is the one this pool's connections belong to."""
        try:
            return self.loop is asyncio.get_running_loop()
        except RuntimeError:
            return False

    def _compile(self, statement: Select[Any]) -> _Compiled:
        # By identity: the callers' statements are built once (functools.cache); the statement
        # is kept with its compiled form, so an id is never reused while it is in here.
        found = self._compiled.get(id(statement))
        if found is None:
            found = self._compiled[id(statement)] = (statement, _Compiled(statement, self._engine))
        return found[1]

    async def first(self, statement: Select[Any], params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The statement's first row, each value converted as the ORM would; None if none.
        Raises psycopg.OperationalError when two connections in a row failed."""
        compiled = self._compile(statement)
        values = compiled.parameters(params)
        for attempt in (1, 2):
            try:
                async with self._pool.connection() as connection:
                    cursor = await connection.execute(compiled.sql, values)
                    row = await cursor.fetchone()
                return None if row is None else compiled.row(row)
            except psycopg.OperationalError as exc:
                if attempt == 2:
                    raise
                # Closed by the server since its last use (a restart, an idle timeout): the
                # pool drops it; once more on another.
                log.warning("a read on the loop failed (%s); once more", type(exc).__name__)
        raise AssertionError("unreachable")

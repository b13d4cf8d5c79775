"""Engine, the request session, the metadata naming convention and the UTC timestamp type."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Concatenate, ParamSpec, TypeVar

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import (
    BindParameter,
    Boolean,
    ColumnElement,
    CursorResult,
    DateTime,
    Engine,
    Result,
    String,
    Table,
    bindparam,
    create_engine,
    event,
    insert,
    inspect,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.sql import operators
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement, UnaryExpression
from sqlalchemy.sql.expression import Executable
from sqlalchemy.sql.operators import OperatorType
from sqlalchemy.sql.schema import ScalarElementColumnDefault
from sqlalchemy.sql.visitors import InternalTraversal, _TraverseInternalsType
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import Session, SQLModel

# Explicit constraint names, so that migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION


_UNSEEN = object()
# Instants converted lately, per dialect, shared by every datetime column: a fan-out writes the
# same instants into thousands of rows and several columns (a result's attempt time is the
# delivery's first, last and delivered time, its attempt's time, its notice's notified_at).
_REMEMBERED = 1024
_CONVERTED: dict[str, dict[datetime, Any]] = {}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend (SQLite has no time zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use the clock")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """Our conversion and the dialect's (on SQLite, a formatted string), remembering the
        instants converted lately (`_CONVERTED`): converting each one again was a tenth of the
        breach POST, and recording a batch of results converted each result's attempt time
        once per column it goes to (five), each column keeping its own. Equal instants convert
        alike whatever the column (every one of this type converts as the dialect does)."""
        process = super().bind_processor(dialect)
        if process is None:
            return None
        seen = _CONVERTED.setdefault(dialect.name, {})

        def remembered(value: Any) -> Any:
            if value is None:
                return process(value)
            # A refused value (naive) raises and is not kept. Dictionary reads and writes are
            # atomic: the worker's threads and the requests share it.
            converted = seen.get(value, _UNSEEN)
            if converted is _UNSEEN:
                converted = process(value)
                if len(seen) >= _REMEMBERED:
                    seen.clear()
                seen[value] = converted
            return converted

        return remembered

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# PostgreSQL ends one of two transactions that wait for each other's rows (40P01), or one that a
# concurrent change made unserialisable (40001), and says to run it again: a request and the
# worker touching a notice and its timers in opposite orders can meet this way.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
ATTEMPTS = 3


def retryable(exc: BaseException) -> bool:
    """A transaction the database ended as a deadlock or serialisation victim: run it again."""
    return getattr(getattr(exc, "orig", None), "sqlstate", None) in RETRYABLE_SQLSTATES


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


# Connections beyond the pool, for the worker's jobs, /metrics and /readyz: requests never use
# more than pool_size (see AppContext.request_slots), so these are always there for the rest.
POOL_OVERFLOW = 20


def _private(database: str) -> None:
    """The SQLite file and its WAL companions, readable by the service's user only."""
    for path in (database, f"{database}-wal", f"{database}-shm"):
        with contextlib.suppress(FileNotFoundError):
            if os.stat(path).st_mode & 0o077:
                os.chmod(path, 0o600)


# One encoder for every call: json.dumps given any option builds a JSONEncoder each time, which
# cost more than encoding a timer's `{}` (a breach POST writes ~7,000 JSON values).
_COMPACT = json.JSONEncoder(separators=(",", ":"))


def dump_json(value: Any) -> str:
    """How JSON columns are written: compact, non-ASCII escaped (text any database encoding
    and any receiver takes as it is). An event's data goes into its messages as written here
    (`signing.body`)."""
    return _COMPACT.encode(value)


def make_engine(url: str, pool_size: int = 10) -> Engine:
    if is_sqlite(url):
        database = make_url(url).database or ":memory:"
        in_memory = database == ":memory:"
        if not in_memory:
            # The service's own: nobody else on the host reads the database (SPEC §13).
            Path(database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # An in-memory database lives in one connection per thread: no pool to size.
        pool = {} if in_memory else {"pool_size": pool_size, "max_overflow": POOL_OVERFLOW}
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            # Errors and logs name the statement, never its values (personal data, secrets).
            hide_parameters=True,
            json_serializer=dump_json,
            **pool,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            # WAL lets readers and one writer work together; FULL sync because a lost breach
            # notice on power loss is worse than a slower commit.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            if not in_memory:
                _private(database)

        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=POOL_OVERFLOW,
        hide_parameters=True,
        json_serializer=dump_json,
    )


P = ParamSpec("P")
T = TypeVar("T")


async def short_read(
    session: Session, read: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """A read of a row or two by an indexed key, first thing in a request's unit of work (the
    API key every request starts with), as `read(session, ...)`.

    On SQLite it runs here, on the event loop: in WAL mode a reader never waits for the
    writer, the file is local, and the read takes a few microseconds against ~300 for a trip
    to the thread pool and back, which was most of an authenticated read's cost. Only for
    reads: a write on SQLite may wait for the write lock (busy_timeout), which must never be
    on the loop.

    On PostgreSQL it is a network round trip, so it goes to the pool; and when it is the first
    thing the session does, it runs in autocommit (one round trip: no BEGIN before it, no
    COMMIT or ROLLBACK after) and gives the connection back, keeping what it loaded. A request
    that reads nothing else needs no second trip to end a transaction; one that goes on takes
    a connection in a transaction of its own, which under READ COMMITTED sees what a longer
    transaction would have seen.
    """
    if session.get_bind().dialect.name == "sqlite":
        return read(session, *args, **kwargs)

    def read_first() -> T:
        if session.in_transaction():  # already at work: the read is part of it
            return read(session, *args, **kwargs)
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        found = read(session, *args, **kwargs)
        session.commit()  # nothing to commit: ends the session's use of the connection
        return found

    return await run_in_threadpool(read_first)


class UnitOfWork:
    """A request's session, opened when something first asks for it and committed once by
    `app.routing.ServiceRoute`. A read that needs nothing but its key and the client its path
    names (both read on the loop, app.loopreads) never opens one: a session opened, given the
    client and closed was ~10 % of such a request's CPU (2026-11-28, in-process profile)."""

    __slots__ = ("_adopted", "_engine", "_session")

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._session: Session | None = None
        self._adopted: list[Any] = []

    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = Session(self._engine, expire_on_commit=False)
            for instance in self._adopted:
                self._session.add(instance)
            self._adopted.clear()
        return self._session

    @property
    def opened(self) -> Session | None:
        """The session if anything asked for it, else None (nothing to end)."""
        return self._session

    def adopt(self, instance: Any) -> None:
        """An instance read outside the session (`as_loaded`) joins it as if it had loaded it:
        now if it is open, else when it opens, before anyone can use it."""
        if self._session is None:
            self._adopted.append(instance)
        else:
            self._session.add(instance)


def unit_of_work(request: Request) -> UnitOfWork:
    unit: UnitOfWork = request.state.unit
    return unit


async def get_session(request: Request) -> Session:
    """The request's unit of work, opened at first use and committed once by
    `app.routing.ServiceRoute`."""
    return unit_of_work(request).session


SessionDep = Annotated[Session, Depends(get_session)]


_WROTE = "dpa_wrote"


def mark_written(session: OrmSession) -> None:
    """The session wrote to the database (app.routing commits a request that did)."""
    session.info[_WROTE] = True


def written(session: OrmSession) -> bool:
    return bool(session.info.get(_WROTE))


_CONNECTED = "dpa_connected"


@event.listens_for(OrmSession, "after_begin")
def _began(session: OrmSession, _transaction: Any, _connection: Any) -> None:
    session.info[_CONNECTED] = True


@event.listens_for(OrmSession, "after_transaction_end")
def _ended(session: OrmSession, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_CONNECTED, None)


def holds_connection(session: OrmSession) -> bool:
    """Whether the session's transaction has a connection (began on the database), rather than
    only objects added to it (which begins a transaction in the session, not in the database):
    ending that one is local, no trip anywhere."""
    return bool(session.info.get(_CONNECTED))


M = TypeVar("M", bound=SQLModel)


def as_loaded(model: type[M], values: Iterable[tuple[str, Any]]) -> M:
    """An instance of `model` holding `values` (every column), in the state the ORM leaves one
    it loaded: no pending change, detached until a session adds it. Built the way the ORM's
    loading builds one (a new instance, its attributes' dictionary filled in), ~4 us where
    the model's constructor and `make_transient_to_detached` take ~26 us: for rows read
    outside SQLAlchemy (app.loopreads)."""
    instance: M = _class_manager(model).new_instance()
    instance.__dict__.update(values)
    make_transient_to_detached(instance)
    return instance


@functools.cache
def _class_manager(model: type[SQLModel]) -> Any:
    return inspect(model).class_manager


def affected(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed (a statement's result is a cursor result)."""
    assert isinstance(result, CursorResult)
    return result.rowcount


def insert_rows(session: Session, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
    """Many rows of a table in one executemany (on PostgreSQL, from COPY_AT rows, one COPY), in
    the session's transaction, without the unit of work's cost per row. Column defaults apply;
    every row names the same columns.

    The INSERT is compiled once per table, dialect and set of columns, and the rows go to the
    driver with the columns' own bind processors applied (`_Prepared`), where SQLAlchemy's
    executemany builds and processes a parameter dictionary per row: a 1,000-client breach's
    10,000 rows 70 -> 60 ms (the rest is SQLite's own work). A column left out whose default
    SQLAlchemy computes per row (a function, an expression) takes SQLAlchemy's own path."""
    if not rows:
        return
    table = table_of(model)
    prepared = _bulk_insert(table, session.get_bind().dialect, tuple(rows[0]))
    if prepared is None:
        session.execute(insert(table), rows)
    else:
        prepared.execute(session, rows)
    if len(rows) >= ANALYZE_AFTER and session.get_bind().dialect.name == "postgresql":
        session.info.setdefault(_STALE_STATISTICS, set()).add(table.name)


def execute_many(session: Session, statement: Executable, rows: list[dict[str, Any]]) -> None:
    """`session.execute(statement, rows)` (an executemany), for a statement built once (kept
    in a module's cache: it is cached here by identity) that the pump runs for every batch: it
    is compiled once per dialect and set of keys, and the rows go to the driver as
    `insert_rows` sends them. Every row names the same keys. A statement this cannot prepare
    (lists, values computed per row) takes SQLAlchemy's path."""
    if not rows:
        return
    prepared = _prepared_many(statement, session.get_bind().dialect, tuple(rows[0]))
    if prepared is None:
        session.execute(statement, rows)
    else:
        prepared.execute(session, rows)


@dataclass(frozen=True)
class _Prepared:
    """A statement compiled once, and how to turn rows into the driver's parameters."""

    statement: str
    positional: bool  # the driver's parameter style: tuples (SQLite), or dictionaries
    # Per parameter, in the statement's order: its name and its type's bind processor.
    columns: tuple[tuple[str, Callable[[Any], Any] | None], ...]
    constants: dict[str, Any]  # the values of the parameters the rows leave out
    # PostgreSQL, an INSERT: the same rows as one COPY of these columns (see COPY_AT).
    copy: str | None = None

    def values(self, rows: list[dict[str, Any]]) -> list[list[Any]]:
        """Each row's values in the statement's order, converted as its columns convert."""
        if self.constants:
            rows = [{**self.constants, **row} for row in rows]
        try:
            return [
                [
                    row[name] if process is None else process(row[name])
                    for name, process in self.columns
                ]
                for row in rows
            ]
        except Exception as exc:  # as SQLAlchemy reports a value its type refuses
            name = f"{type(exc).__module__}.{type(exc).__name__}"
            raise StatementError(f"({name}) {exc}", self.statement, None, exc) from exc

    def parameters(self, rows: list[dict[str, Any]]) -> list[Any]:
        return self._driver(self.values(rows))

    def _driver(self, values: list[list[Any]]) -> list[Any]:
        if self.positional:
            return [tuple(row) for row in values]
        names = [name for name, _ in self.columns]
        return [dict(zip(names, row, strict=True)) for row in values]

    def execute(self, session: Session, rows: list[dict[str, Any]]) -> None:
        values = self.values(rows)
        session.flush()  # what session.execute's autoflush does: the rows' parents first
        connection = session.connection()
        if self.copy is not None and len(values) >= COPY_AT:
            _copy(connection, self.copy, values)
        else:
            connection.exec_driver_sql(self.statement, self._driver(values))
        mark_written(session)


# PostgreSQL: an INSERT of this many rows or more goes as one COPY rather than an executemany
# (a statement per row, pipelined). Per row, in process (timers, one transaction per batch):
# 64 rows 22-45 against 68-75 us of CPU, 500 rows 37 against 61-67 us; a 1,000-client breach
# POST 0.78-0.97 -> 0.41-0.60 s. From about 8 rows on, COPY is no slower.
COPY_AT = 16


def _copy(connection: Connection, statement: str, values: list[list[Any]]) -> None:
    """The rows through PostgreSQL's COPY, in the connection's transaction; the driver's
    errors reported as SQLAlchemy reports an executemany's (IntegrityError, OperationalError...)."""
    dialect = connection.dialect
    cursor = connection.connection.cursor()
    try:
        with cursor.copy(statement) as copy:
            for row in values:
                copy.write_row(row)
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(
            statement, None, exc, dialect.loaded_dbapi.Error, dialect=dialect, ismulti=True
        ) from exc
    finally:
        cursor.close()


def _prepare(
    compiled: SQLCompiler, dialect: Dialect, keys: tuple[str, ...], constants: dict[str, Any]
) -> _Prepared | None:
    if compiled.insert_prefetch or compiled.update_prefetch or compiled.post_compile_params:
        return None  # values computed per execution, or lists: SQLAlchemy's path
    names = _parameter_names(compiled)
    if sorted(names) != sorted([*keys, *constants]):
        return None  # a statement shape this does not know: SQLAlchemy's path
    columns = tuple(
        (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
        for name in names
    )
    return _Prepared(compiled.string, bool(compiled.positional), columns, constants)


@functools.lru_cache(maxsize=256)
def _bulk_insert(table: Table, dialect: Dialect, keys: tuple[str, ...]) -> _Prepared | None:
    constants: dict[str, Any] = {}
    for column in table.columns:
        if column.key in keys or column.default is None:
            continue
        default = column.default
        if not isinstance(default, ScalarElementColumnDefault):
            return None  # computed per row: SQLAlchemy's path
        constants[column.key] = default.arg
    compiled = insert(table).compile(dialect=dialect, column_keys=[*keys, *constants])
    assert isinstance(compiled, SQLCompiler)
    prepared = _prepare(compiled, dialect, keys, constants)
    if prepared is None or dialect.name != "postgresql":
        return prepared
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(table.c[name].name) for name, _ in prepared.columns)
    return dataclasses.replace(prepared, copy=f"COPY {quote(table.name)} ({names}) FROM STDIN")


@functools.lru_cache(maxsize=256)
def _prepared_many(
    statement: Executable, dialect: Dialect, keys: tuple[str, ...]
) -> _Prepared | None:
    assert isinstance(statement, ClauseElement)
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    constants: dict[str, Any] = {}
    for name in _parameter_names(compiled):
        if name in keys:
            continue
        bind = compiled.binds[name]
        if bind.required or bind.callable is not None:
            return None  # a value SQLAlchemy would ask for or compute: its path
        constants[name] = bind.value
    return _prepare(compiled, dialect, keys, constants)


def prepare(statement: Executable, dialect: Dialect, keys: tuple[str, ...]) -> _Prepared | None:
    """`statement` compiled once for `dialect`, taking the parameters `keys` (its other
    parameters are constants written in it), as `execute_many` sends it to the driver; None
    for a shape SQLAlchemy must handle itself. Cached by the statement's identity: build the
    statement once."""
    return _prepared_many(statement, dialect, keys)


def _parameter_names(compiled: SQLCompiler) -> list[str]:
    """The parameters as the statement's text names them, in order when they are positional."""
    if compiled.positional:
        return list(compiled.positiontup or ())
    return list(dict.fromkeys(compiled.bind_names.values()))


# PostgreSQL plans from statistics that autovacuum refreshes up to a minute after a bulk insert;
# until then the pump's IN-list statements on a table that grew by thousands are misplanned
# (measured: 430 against 230 us a delivery at 10,000 clients). Such a table is analysed right
# after the request that filled it (app.routing), off its path.
ANALYZE_AFTER = 10_000
_STALE_STATISTICS = "dpa_stale_statistics"


def stale_statistics(session: Session) -> set[str]:
    """The tables this session filled in bulk on PostgreSQL (see ANALYZE_AFTER)."""
    found: set[str] = session.info.get(_STALE_STATISTICS, set())
    return found


def analyze(engine: Engine, tables: set[str]) -> None:
    """Refresh the planner's statistics of these tables (PostgreSQL), in their own transaction."""
    quote = engine.dialect.identifier_preparer.quote
    with engine.connect() as connection:
        for name in sorted(tables):
            connection.exec_driver_sql(f"ANALYZE {quote(name)}")
        connection.commit()


def table_of(model: type[SQLModel]) -> Table:
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


def expire_loaded(
    session: Session, model: type[SQLModel], ids: set[str], *names: str, by: str = "id"
) -> None:
    """After a Core UPDATE of these rows (picked by `by`, the id unless said): objects of them
    this session already holds read the columns again on next access (the UPDATE went around
    the identity map). Expiring a few more than the UPDATE changed only costs a reload."""
    for instance in list(session.identity_map.values()):
        if isinstance(instance, model) and getattr(instance, by, None) in ids:
            session.expire(instance, list(names))


class _Listed(TypeDecorator[list[str]]):
    """A list of strings bound as one parameter: an array on PostgreSQL, a JSON array on
    SQLite (read by `json_each`)."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(String()))
        return dialect.type_descriptor(String())

    def process_bind_param(self, value: list[str] | None, dialect: Dialect) -> Any:
        if value is None or dialect.name == "postgresql":
            return value
        return json.dumps(list(value))


class _Among(ColumnElement[bool]):
    """`column` is one of the strings bound as `values` (see `among`)."""

    inherit_cache = True
    type = Boolean()
    _traverse_internals: _TraverseInternalsType = [  # noqa: RUF012 (SQLAlchemy's protocol)
        ("column", InternalTraversal.dp_clauseelement),
        ("values", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], values: BindParameter[list[str]]) -> None:
        self.column = column
        self.values = values

    # Its SQL comes in parentheses, whole: no grouping, and no `= 1` around it (SQLAlchemy's
    # way with a boolean expression of its own making on a database without booleans).
    def self_group(self, against: OperatorType | None = None) -> ColumnElement[bool]:
        return self

    def _negate(self) -> ColumnElement[bool]:
        return UnaryExpression(self, operator=operators.inv, type_=Boolean())


@compiles(_Among, "postgresql")
def _among_on_postgresql(element: _Among, compiler: SQLCompiler, **kw: Any) -> str:
    column, values = compiler.process(element.column, **kw), compiler.process(element.values, **kw)
    return f"({column} = ANY ({values}))"


@compiles(_Among)
def _among_elsewhere(element: _Among, compiler: SQLCompiler, **kw: Any) -> str:
    column, values = compiler.process(element.column, **kw), compiler.process(element.values, **kw)
    return f"({column} IN (SELECT value FROM json_each({values})))"


def among(column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
    """`column IN (the list bound as name)` as one parameter, where SQLAlchemy's `in_` with an
    expanding parameter writes one per element: its SQL is then rebuilt at every execution
    (each element's placeholder and, on PostgreSQL, its cast), and on PostgreSQL each length
    is a statement of its own to parse and plan. For the pump's statements, which read and
    write 16-128 deliveries by id many times a second: a 64-id read 1.35 -> 0.49 ms of CPU on
    PostgreSQL, 0.64 -> 0.45 ms on SQLite. Strings only; `~among(...)` is NOT IN."""
    return _Among(column, bindparam(name, type_=_Listed()))

"""insert_rows and execute_many send rows to the driver themselves (the statement compiled once,
each column's own bind processor applied): what they store must be what SQLAlchemy stores,
defaults and fixed values included, and the request that used them must know it wrote. On
PostgreSQL, from COPY_AT rows, insert_rows sends them as one COPY: the same values must arrive,
text COPY's special characters included, and its errors read as SQLAlchemy's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    event,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col
from sqlmodel import select as orm_select

from app.db import COPY_AT, UTCDateTime, execute_many, insert_rows, make_engine, written
from app.events.models import Timer

PARIS = timezone(timedelta(hours=1))


def test_rows_read_back_as_the_orm_writes_them(database_url: str) -> None:
    engine = make_engine(database_url)
    due = datetime(2026, 11, 27, 10, 0, tzinfo=PARIS)
    fields: dict[str, Any] = {
        "kind": "probe",
        "subject": "ntc_1",
        "due_at": due,
        "status": "pending",
        "payload": {"note": "Défaillance « chiffrée »", "n": [1, 2.5, None], "ok": True},
        "created_at": due - timedelta(seconds=1),
        "lease_owner": None,
        "lease_expires_at": None,
    }
    with Session(engine) as session:
        insert_rows(session, Timer, [{"id": "tmr_bulk", **fields}])
        assert written(session)  # a request that only bulk-inserts still commits
        session.add(Timer(id="tmr_orm", **fields))
        session.commit()
    with Session(engine) as session:
        bulk, orm = session.exec(orm_select(Timer).order_by(col(Timer.id))).all()
    assert bulk.model_dump(exclude={"id"}) == orm.model_dump(exclude={"id"})
    assert bulk.due_at == due and bulk.due_at.utcoffset() == timedelta(0)
    engine.dispose()


def test_column_defaults_apply_as_sqlalchemy_applies_them(database_url: str) -> None:
    """A scalar default is sent with each row; a default computed per row (a function) goes
    through SQLAlchemy's own executemany, which computes it."""
    probe = Table(
        "bulk_probe",
        MetaData(),
        Column("id", String(20), primary_key=True),
        Column("count", Integer, default=7, nullable=False),
        Column("made", String(20), default=lambda: "computed", nullable=False),
        Column("at", UTCDateTime, nullable=True),
        Column("data", JSON, nullable=True),
    )
    engine = make_engine(database_url)
    probe.create(engine)
    at = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    model: Any = SimpleNamespace(__table__=probe)
    with Session(engine) as session:
        insert_rows(session, model, [{"id": "a", "made": "given", "at": at, "data": {"k": 1}}])
        insert_rows(session, model, [{"id": "b", "count": 3}, {"id": "c", "count": 4}])
        session.commit()
    with engine.connect() as connection:
        rows = connection.execute(select(probe).order_by(probe.c.id)).all()
    assert [tuple(row) for row in rows] == [
        ("a", 7, "given", at, {"k": 1}),
        ("b", 3, "computed", None, None),
        ("c", 4, "computed", None, None),
    ]
    engine.dispose()


def _probe(engine: Any) -> Table:
    probe = Table(
        "many_probe",
        MetaData(),
        Column("id", String(20), primary_key=True),
        Column("state", String(20), nullable=False),
        Column("count", Integer, nullable=False),
        Column("at", UTCDateTime, nullable=True),
        Column("data", JSON, nullable=True),
        Column("owner", String(20), nullable=True),
    )
    probe.create(engine)
    with engine.begin() as connection:
        connection.execute(
            probe.insert(),
            [
                {"id": name, "state": "new", "count": 0, "owner": "w1" if name != "c" else "w2"}
                for name in ("a", "b", "c")
            ],
        )
    return probe


def test_execute_many_writes_what_sqlalchemys_executemany_writes(database_url: str) -> None:
    """Each row's values through their column's type (a timezone-aware time stored as UTC,
    JSON), the values written in the statement as they are, the WHERE's parameters too."""
    engine = make_engine(database_url)
    probe = _probe(engine)
    statement = (
        update(probe)
        .where(probe.c.id == bindparam("b_id"), probe.c.owner == bindparam("b_owner"))
        .values(state="done", count=bindparam("count"), at=bindparam("at"), owner=None)
        .values(data=bindparam("data"))
    )
    at = datetime(2026, 11, 27, 13, 0, tzinfo=PARIS)
    rows = [
        {"b_id": name, "b_owner": "w1", "count": n, "at": at, "data": {"n": n, "é": [n]}}
        for n, name in enumerate(("a", "b", "c"), start=1)
    ]
    with Session(engine) as session:
        execute_many(session, statement, rows)
        assert written(session)
        session.commit()
    with engine.connect() as connection:
        found = [tuple(row) for row in connection.execute(select(probe).order_by(probe.c.id))]
    when = at.astimezone(UTC)
    assert found == [
        ("a", "done", 1, when, {"n": 1, "é": [1]}, None),
        ("b", "done", 2, when, {"n": 2, "é": [2]}, None),
        ("c", "new", 0, None, None, "w2"),  # another owner's row: the WHERE held
    ]
    engine.dispose()


def test_execute_many_leaves_values_computed_per_row_to_sqlalchemy(database_url: str) -> None:
    """A column whose new value SQLAlchemy computes at each UPDATE (onupdate=a function) is
    SQLAlchemy's to send: it is, and the rows' own values too."""
    engine = make_engine(database_url)
    probe = _probe(engine)
    probe.append_column(Column("changed", String(20), onupdate=lambda: "computed"))
    with engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE many_probe ADD COLUMN changed VARCHAR(20)")
    statement = update(probe).where(probe.c.id == bindparam("b_id")).values(count=bindparam("n"))
    with Session(engine) as session:
        execute_many(session, statement, [{"b_id": "a", "n": 5}, {"b_id": "c", "n": 6}])
        session.commit()
    with engine.connect() as connection:
        found = connection.execute(select(probe.c.count, probe.c.changed).order_by(probe.c.id))
        assert [tuple(row) for row in found] == [(5, "computed"), (0, None), (6, "computed")]
    engine.dispose()


def _typed_probe(engine: Any) -> Table:
    probe = Table(
        "copy_probe",
        MetaData(),
        Column("id", String(20), primary_key=True),
        Column("text", Text, nullable=True),
        Column("flag", Boolean, nullable=True),
        Column("count", Integer, nullable=True),
        Column("at", UTCDateTime, nullable=True),
        Column("data", JSON, nullable=True),
    )
    probe.create(engine)
    return probe


# What text COPY escapes or could misread: tab (its column separator), newline, carriage return,
# backslash (its escape), \N (its NULL), a lone period line (its old end marker), quotes.
AWKWARD = [
    "a\tb",
    "line\nnext\r",
    "back\\slash",
    "\\N",
    "\\.",
    "'quoted' \"both\"",
    "",
    "é « ü » 😀",
]


def test_many_rows_arrive_as_sqlalchemy_inserts_them(database_url: str) -> None:
    engine = make_engine(database_url)
    probe = _typed_probe(engine)
    model: Any = SimpleNamespace(__table__=probe)
    at = datetime(2026, 11, 28, 3, 30, 15, 123456, tzinfo=PARIS)
    values = [
        {
            "text": AWKWARD[n % len(AWKWARD)] if n % 5 else None,
            "flag": [True, False, None][n % 3],
            "count": n - 3 if n % 4 else None,
            "at": at + timedelta(microseconds=n) if n % 6 else None,
            "data": {"text": AWKWARD[n % len(AWKWARD)], "n": [n, 2.5, None, True]}
            if n % 7
            else None,
        }
        for n in range(2 * COPY_AT)
    ]
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with Session(engine) as session:
        insert_rows(session, model, [{"id": f"bulk{n:03d}", **v} for n, v in enumerate(values)])
        assert written(session)
        session.execute(probe.insert(), [{"id": f"orm{n:03d}", **v} for n, v in enumerate(values)])
        session.commit()
    # SQLAlchemy's own INSERT ran; insert_rows' rows went as COPY on PostgreSQL (no statement
    # SQLAlchemy sees), as an executemany elsewhere.
    postgres = engine.dialect.name == "postgresql"
    assert len([s for s in statements if s.startswith("INSERT INTO copy_probe")]) == (
        1 if postgres else 2
    )
    with engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(select(probe).order_by(probe.c.id))]
    bulk = [row[1:] for row in rows if row[0].startswith("bulk")]
    orm = [row[1:] for row in rows if row[0].startswith("orm")]
    assert len(bulk) == len(values) and bulk == orm
    assert bulk[1] == (
        AWKWARD[1],
        False,
        -2,
        (at + timedelta(microseconds=1)).astimezone(UTC),
        values[1]["data"],
    )
    engine.dispose()


def test_many_rows_that_break_a_constraint_fail_as_sqlalchemy_reports_it(database_url: str) -> None:
    """A duplicate key among many rows: IntegrityError (as an executemany's), nothing stored,
    the session still usable once rolled back."""
    engine = make_engine(database_url)
    probe = _typed_probe(engine)
    model: Any = SimpleNamespace(__table__=probe)
    rows = [{"id": f"r{n:03d}", "count": n} for n in range(COPY_AT)] + [{"id": "r000", "count": -1}]
    with Session(engine) as session:
        with pytest.raises(IntegrityError):
            insert_rows(session, model, rows)
        session.rollback()
        insert_rows(session, model, rows[1:])
        session.commit()
    with engine.connect() as connection:
        counts = connection.execute(select(probe.c.count).order_by(probe.c.id)).scalars().all()
    assert counts == [-1, *range(1, COPY_AT)]
    engine.dispose()

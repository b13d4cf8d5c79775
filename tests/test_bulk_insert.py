"""insert_rows and execute_many send rows to the driver themselves (the statement compiled once,
each column's own bind processor applied): what they store must be what SQLAlchemy stores,
defaults and fixed values included, and the request that used them must know it wrote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, bindparam, select, update
from sqlmodel import Session, col
from sqlmodel import select as orm_select

from app.db import UTCDateTime, execute_many, insert_rows, make_engine, written
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

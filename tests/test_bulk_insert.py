"""insert_rows sends rows to the driver itself (the INSERT compiled once, each column's own bind
processor applied): what it stores must be what the ORM stores, column defaults included, and
the request that used it must know it wrote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, select
from sqlmodel import Session, col
from sqlmodel import select as orm_select

from app.db import UTCDateTime, insert_rows, make_engine, written
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

"""UTCDateTime remembers the instants it converted lately, shared by every column of the type (a
fan-out writes a few instants into thousands of rows and several columns): what is stored must
still be each row's and column's own instant, past the number it keeps too, and a naive datetime
is still refused, even right after an equal aware one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import StatementError
from sqlmodel import Session, col, select

from app.db import _REMEMBERED, insert_rows, make_engine
from app.events.models import Timer

PARIS = timezone(timedelta(hours=1))


def _timer(number: int, due_at: datetime, created_at: datetime) -> dict[str, object]:
    return {
        "id": f"tmr_{number:04d}",
        "kind": "test",
        "subject": "s",
        "due_at": due_at,
        "status": "pending",
        "payload": {},
        "created_at": created_at,
    }


def test_each_row_keeps_its_own_instant(database_url: str) -> None:
    first = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    later = first + timedelta(microseconds=1)
    same_in_paris = first.astimezone(PARIS)  # equal to `first`, another zone
    dues = [first, first, later, same_in_paris, later, first, later + timedelta(days=3)]
    created = [later, first, first, later, same_in_paris, later, first]
    engine = make_engine(database_url)
    with Session(engine) as session:
        insert_rows(
            session,
            Timer,
            [_timer(n, due, made) for n, (due, made) in enumerate(zip(dues, created, strict=True))],
        )
        session.commit()
    with Session(engine) as session:
        stored = session.exec(select(Timer).order_by(col(Timer.id))).all()
    assert [t.due_at for t in stored] == dues
    assert [t.created_at for t in stored] == created
    assert all(t.due_at.tzinfo is not None and t.due_at.utcoffset() == timedelta(0) for t in stored)
    engine.dispose()


def test_more_instants_than_it_keeps(database_url: str) -> None:
    start = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    instants = [start + timedelta(seconds=n) for n in range(_REMEMBERED + 8)]
    dues = [instants[(n * 7) % len(instants)] for n in range(3 * len(instants))]
    engine = make_engine(database_url)
    with Session(engine) as session:
        insert_rows(session, Timer, [_timer(n, due, start) for n, due in enumerate(dues)])
        session.commit()
    with Session(engine) as session:
        stored = session.exec(select(Timer).order_by(col(Timer.id))).all()
    assert [t.due_at for t in stored] == dues
    engine.dispose()


def test_a_naive_datetime_is_refused_after_an_equal_aware_one(database_url: str) -> None:
    aware = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    engine = make_engine(database_url)
    with Session(engine) as session:
        insert_rows(session, Timer, [_timer(1, aware, aware)])
        with pytest.raises(StatementError, match="naive datetime"):
            insert_rows(session, Timer, [_timer(2, aware.replace(tzinfo=None), aware)])
    engine.dispose()

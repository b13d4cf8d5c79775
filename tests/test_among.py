"""`app.db.among`: a column in a list bound as one parameter (an array on PostgreSQL, JSON read
by json_each on SQLite), for the pump's statements that read and write deliveries by id. It must
pick exactly the listed rows (and `~among` the others) on both databases, whatever the list's
length, with one statement for every length: SQLAlchemy's expanding `in_` rebuilt its SQL at
each execution, one placeholder per id."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select
from sqlmodel import Session

from app.db import among, insert_rows, make_engine, table_of
from app.events.models import Timer

TIMERS = table_of(Timer)
IDS = [f"tmr_{n:04d}" for n in range(40)]


@pytest.fixture
def engine(database_url: str):
    engine = make_engine(database_url)
    now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    rows = [
        {
            "id": timer_id,
            "kind": "test",
            "subject": "s",
            "due_at": now,
            "status": "pending",
            "payload": {},
            "created_at": now,
        }
        for timer_id in IDS
    ]
    with Session(engine) as session:
        insert_rows(session, Timer, rows)
        session.commit()
    yield engine
    engine.dispose()


@pytest.mark.parametrize(
    "wanted",
    [[], ["tmr_0003"], IDS[5:25], [*IDS[::7], "tmr_none", 'it\'s "quoted", [and] {odd}']],
    ids=["none", "one", "twenty", "some-unknown"],
)
def test_picks_exactly_the_listed_rows(engine, wanted: list[str]) -> None:
    inside = select(TIMERS.c.id).where(among(TIMERS.c.id, "ids")).order_by(TIMERS.c.id)
    outside = select(TIMERS.c.id).where(~among(TIMERS.c.id, "ids")).order_by(TIMERS.c.id)
    with Session(engine) as session:
        found = session.execute(inside, {"ids": wanted}).scalars().all()
        others = session.execute(outside, {"ids": wanted}).scalars().all()
    assert found == sorted(set(wanted) & set(IDS))
    assert others == sorted(set(IDS) - set(wanted))


def test_one_statement_for_every_length(engine) -> None:
    sent: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _sent(_conn, _cursor, statement, _params, _context, _many) -> None:
        sent.append(statement)

    statement = select(TIMERS.c.id).where(among(TIMERS.c.id, "ids"))
    with Session(engine) as session:
        sizes = [len(session.execute(statement, {"ids": IDS[:n]}).all()) for n in (1, 2, 17, 40)]
    assert sizes == [1, 2, 17, 40]
    assert len(sent) == 4 and len(set(sent)) == 1

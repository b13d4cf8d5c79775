"""The working-day rule (seed §2.5, SPEC §7) as a table; each expected date was counted by hand
on a 2026 and 2027 calendar."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from app.workdays import (
    earliest_audit_start,
    is_working_day,
    local_date,
    objection_deadline,
    within_deadline,
    working_days_after,
)


@pytest.mark.parametrize(
    ("received", "calendar", "expected", "why"),
    [
        (date(2026, 3, 2), "FR", date(2026, 4, 15), "crosses Easter Monday (6 April)"),
        (date(2026, 3, 2), "FR-57", date(2026, 4, 16), "Moselle: Good Friday (3 April) too"),
        (date(2026, 4, 15), "FR", date(2026, 6, 3), "1 and 8 May, Ascension, Whit Monday"),
        (date(2026, 11, 23), "FR", date(2027, 1, 7), "Christmas and New Year"),
        (date(2026, 3, 7), "FR", date(2026, 4, 21), "received on a Saturday"),
        (date(2026, 3, 8), "FR", date(2026, 4, 21), "received on a Sunday"),
        (date(2026, 3, 6), "FR", date(2026, 4, 21), "received on a Friday: the same"),
        (date(2026, 4, 6), "FR", date(2026, 5, 22), "received on Easter Monday"),
        (date(2026, 3, 5), "FR", date(2026, 4, 20), "received on a Thursday"),
    ],
)
def test_earliest_audit_start(received: date, calendar: str, expected: date, why: str) -> None:
    assert earliest_audit_start(received, calendar) == expected, why


def test_late_evening_in_the_clients_time_zone_counts_as_that_day() -> None:
    """22:30 on Thursday in Martinique is already Friday 02:30 in UTC: the request was received
    on Thursday, where the client is."""
    instant = datetime.fromisoformat("2026-03-05T22:30:00-04:00")
    assert local_date(instant, "America/Martinique") == date(2026, 3, 5)
    assert earliest_audit_start(local_date(instant, "America/Martinique"), "FR") == date(
        2026, 4, 20
    )
    utc_day = datetime.fromisoformat("2026-03-06T02:30:00+00:00").date()
    assert earliest_audit_start(utc_day, "FR") == date(2026, 4, 21)  # what UTC would wrongly say


def test_working_days() -> None:
    assert not is_working_day(date(2026, 5, 25), "FR")  # Whit Monday
    assert not is_working_day(date(2026, 12, 26), "FR-57")
    assert is_working_day(date(2026, 12, 28), "FR")
    assert working_days_after(date(2026, 4, 30), 3, "FR") == [
        date(2026, 5, 4),
        date(2026, 5, 5),
        date(2026, 5, 6),
    ]


PARIS = "Europe/Paris"


@pytest.mark.parametrize(
    ("arrived", "days", "calendar", "timezone", "expected", "why"),
    [
        (
            "2026-03-06T10:00:00+01:00",
            30,
            "FR",
            PARIS,
            "2026-04-07T23:59:59+02:00",
            "5 April is a Sunday, 6 April Easter Monday: Tuesday; summer time by then",
        ),
        (
            "2026-03-02T09:00:00+01:00",
            30,
            "FR",
            PARIS,
            "2026-04-01T23:59:59+02:00",
            "a Wednesday: no move",
        ),
        (
            "2026-03-06T23:30:00+00:00",
            30,
            "FR",
            PARIS,
            "2026-04-07T23:59:59+02:00",
            "23:30 UTC is already Saturday 7 March in Paris: 6 April is Easter Monday",
        ),
        (
            "2026-04-01T12:00:00+02:00",
            30,
            "FR",
            PARIS,
            "2026-05-04T23:59:59+02:00",
            "day 30 is 1 May, a Friday and a holiday: over the weekend to Monday 4 May",
        ),
        (
            "2026-11-25T10:00:00+01:00",
            30,
            "FR-57",
            PARIS,
            "2026-12-28T23:59:59+01:00",
            "Moselle: 25 December is a Friday, 26 December (Saturday) a holiday too",
        ),
        (
            "2026-03-05T22:30:00-04:00",
            10,
            "FR",
            "America/Martinique",
            "2026-03-16T23:59:59-04:00",
            "Thursday evening in Martinique: day 10 is Sunday 15, moved to Monday 16",
        ),
    ],
)
def test_objection_deadline(
    arrived: str, days: int, calendar: str, timezone: str, expected: str, why: str
) -> None:
    deadline = objection_deadline(datetime.fromisoformat(arrived), days, calendar, timezone)
    assert deadline == datetime.fromisoformat(expected), why
    assert deadline.utcoffset() == timedelta(0)  # answered in UTC


def test_the_whole_last_day_is_within_the_deadline() -> None:
    deadline = objection_deadline(
        datetime.fromisoformat("2026-03-06T10:00:00+01:00"), 30, "FR", PARIS
    )
    assert within_deadline(datetime.fromisoformat("2026-04-07T16:00:00+02:00"), deadline)
    assert within_deadline(datetime.fromisoformat("2026-04-07T23:59:59.999+02:00"), deadline)
    assert not within_deadline(datetime.fromisoformat("2026-04-08T00:00:01+02:00"), deadline)

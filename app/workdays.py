"""Working days (seed §2.5, SPEC §7): Monday to Friday minus the public holidays of the client's
calendar ("jours ouvrés"), from the `holidays` package (`FR`, or a subdivision such as `FR-57`).
Every rule that counts days calls this module."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays

_CODE = re.compile(r"^(?P<country>[A-Z]{2})(?:-(?P<subdivision>[A-Z0-9]{1,4}))?$")
AUDIT_NOTICE_WORKING_DAYS = 30


class UnknownCalendar(ValueError):
    """A calendar code the holidays package does not know."""


@cache
def supported_calendars() -> frozenset[str]:
    codes: set[str] = set()
    for country, subdivisions in holidays.list_supported_countries().items():
        codes.add(country)
        codes.update(f"{country}-{subdivision}" for subdivision in subdivisions)
    return frozenset(code for code in codes if _CODE.match(code))


def is_supported(code: str) -> bool:
    return _CODE.match(code) is not None and code in supported_calendars()


def country_codes() -> list[str]:
    return sorted(code for code in supported_calendars() if "-" not in code)


@cache
def holidays_of(calendar: str, year: int) -> dict[date, str]:
    if not is_supported(calendar):
        raise UnknownCalendar(calendar)
    country, _, subdivision = calendar.partition("-")
    found = holidays.country_holidays(country, subdiv=subdivision or None, years=year)
    return dict(sorted(found.items()))


def is_working_day(day: date, calendar: str) -> bool:
    return day.weekday() < 5 and day not in holidays_of(calendar, day.year)


def working_days_after(start: date, count: int, calendar: str) -> list[date]:
    """The `count` working days that follow `start` (`start` itself never counts)."""
    found: list[date] = []
    day = start
    while len(found) < count:
        day += timedelta(days=1)
        if is_working_day(day, calendar):
            found.append(day)
    return found


def next_working_day(after: date, calendar: str) -> date:
    return working_days_after(after, 1, calendar)[0]


def local_date(instant: datetime, timezone: str) -> date:
    """The calendar day of an instant where the client is."""
    return instant.astimezone(ZoneInfo(timezone)).date()


def earliest_audit_start(received: date, calendar: str) -> date:
    """Seed §2.5: at least 30 working days' notice. As French law counts periods, the day the
    request is received does not count (CPC art. 641) and the notice runs out at the end of the
    30th working day after it (art. 642): the audit may start the next working day."""
    last_notice_day = working_days_after(received, AUDIT_NOTICE_WORKING_DAYS, calendar)[-1]
    return next_working_day(last_notice_day, calendar)


def objection_deadline(
    arrived_at: datetime, window_days: int, calendar: str, timezone: str
) -> datetime:
    """Seed §2.8, SPEC §6: the last instant a client may object to a sub-processor change, as
    French law counts a period of days: the day the notice arrived (in the client's time zone)
    does not count (CPC art. 641), the period ends at 23:59:59 of its last day, and a last day
    that is a Saturday, Sunday or public holiday of the client's calendar moves to the next
    working day (art. 642). Answered in UTC."""
    last_day = local_date(arrived_at, timezone) + timedelta(days=window_days)
    if not is_working_day(last_day, calendar):
        last_day = next_working_day(last_day, calendar)
    end = datetime.combine(last_day, time(23, 59, 59), tzinfo=ZoneInfo(timezone))
    return end.astimezone(ZoneInfo("UTC"))


def within_deadline(moment: datetime, deadline: datetime) -> bool:
    """Whether `moment` falls on or before a deadline given to the second (23:59:59 includes
    the whole of its last second)."""
    return moment < deadline + timedelta(seconds=1)

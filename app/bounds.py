"""Dates and instants a request may carry (SPEC §3, §13): 1900 to 2999. Outside that range no
record of this service makes sense, and the edges of Python's calendar (year 1, year 9999)
overflow as soon as an instant is moved to UTC or a period is counted past them: a 422 naming
the field, never a 500."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, TypeVar

from pydantic import AfterValidator, AwareDatetime

EARLIEST_YEAR, LATEST_YEAR = 1900, 2999


T = TypeVar("T", date, datetime)


def _in_range(value: T) -> T:
    # The year as written, before any conversion (which is what overflows).
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"must be between the years {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value


Moment = Annotated[AwareDatetime, AfterValidator(_in_range)]
Day = Annotated[date, AfterValidator(_in_range)]

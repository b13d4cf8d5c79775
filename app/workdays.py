"""Holiday calendars of the `holidays` package: which codes a client may use (`FR`, `FR-57`, …).

Working-day arithmetic (seed §2.5, SPEC §7) belongs here too, so every rule that counts days
calls one module."""

from __future__ import annotations

import re
from functools import cache

import holidays

_CODE = re.compile(r"^(?P<country>[A-Z]{2})(?:-(?P<subdivision>[A-Z0-9]{1,4}))?$")


@cache
def supported_calendars() -> frozenset[str]:
    codes: set[str] = set()
    for country, subdivisions in holidays.list_supported_countries().items():
        codes.add(country)
        codes.update(f"{country}-{subdivision}" for subdivision in subdivisions)
    return frozenset(codes)


def is_supported(code: str) -> bool:
    return _CODE.match(code) is not None and code in supported_calendars()


def country_codes() -> list[str]:
    return sorted(code for code in supported_calendars() if "-" not in code)

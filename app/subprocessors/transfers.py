"""The transfer guard (seed §2.9, GDPR Art. 44-46): where a sub-processor's countries stand,
from a data file that carries the date it was checked."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

DATA_FILE = Path(__file__).with_name("transfer_countries.json")


class Standing(StrEnum):
    eea = "eea"  # no transfer at all
    adequate = "adequate"  # an adequacy decision covers it (Art. 45)
    needs_safeguards = "needs_safeguards"  # Art. 46: SCC or BCR, and the client's consent (§2.9)


@cache
def _data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    return data


def checked_on() -> str:
    return str(_data()["checked_on"])


def standing(country: str, *, dpf_certified: bool, commercial_organisation: bool) -> Standing:
    data = _data()
    # The EU's outermost regions and Åland have ISO codes of their own but are EU territory.
    if country in data["eea"] or country in data["eea_territories"]:
        return Standing.eea
    decision = data["adequacy"].get(country)
    if decision is None:
        return Standing.needs_safeguards
    condition = decision.get("condition")
    if condition == "dpf_certified" and not dpf_certified:
        return Standing.needs_safeguards
    if condition == "commercial_organisation" and not commercial_organisation:
        return Standing.needs_safeguards
    return Standing.adequate


@dataclass(frozen=True)
class Assessment:
    countries: dict[str, Standing]

    @property
    def needs_safeguards(self) -> list[str]:
        return [c for c, s in self.countries.items() if s is Standing.needs_safeguards]


def assess(
    countries: list[str], *, dpf_certified: bool, commercial_organisation: bool
) -> Assessment:
    return Assessment(
        {
            country: standing(
                country,
                dpf_certified=dpf_certified,
                commercial_organisation=commercial_organisation,
            )
            for country in countries
        }
    )

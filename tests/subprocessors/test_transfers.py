"""The transfer guard's data (SPEC §6): EEA, adequacy decisions, partial adequacy."""

from __future__ import annotations

from datetime import date

import pytest

from app.subprocessors.transfers import Standing, checked_on, standing

E, A, S = Standing.eea, Standing.adequate, Standing.needs_safeguards


@pytest.mark.parametrize(
    ("country", "dpf", "commercial", "expected"),
    [
        ("FR", False, True, E),
        ("DE", False, True, E),
        ("NO", False, True, E),  # EEA, not EU
        ("IS", False, True, E),
        ("CH", False, True, A),
        ("GB", False, True, A),
        ("JP", False, True, A),
        ("KR", False, True, A),
        ("US", True, True, A),  # certified under the Data Privacy Framework
        ("US", False, True, S),  # not certified
        ("CA", False, True, A),  # commercial organisation (PIPEDA)
        ("CA", False, False, S),  # not covered by the decision
        ("IN", False, True, S),
        ("CN", False, True, S),
        ("BR", False, True, S),
        ("AU", False, True, S),
    ],
)
def test_standing(country: str, dpf: bool, commercial: bool, expected: Standing) -> None:
    assert standing(country, dpf_certified=dpf, commercial_organisation=commercial) is expected


@pytest.mark.parametrize("territory", ["GP", "GF", "MQ", "RE", "YT", "MF", "AX"])
def test_outermost_regions_and_aland_are_eea(territory: str) -> None:
    """They have ISO codes of their own, yet are EU territory (TFEU art. 349, 355)."""
    assert standing(territory, dpf_certified=False, commercial_organisation=True) is E


def test_the_data_carries_its_date() -> None:
    assert date.fromisoformat(checked_on()) <= date.today()

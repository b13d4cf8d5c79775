"""SPEC §10, the processor profile: seeded from what the agreement says of SCR Group, versioned,
changed by staff only, read by any key; what it lacks is listed, never invented."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Tenant

FULL = {
    "name": "Groupe SCR",
    "address": "1 rue de l'Exemple, 75001 Paris, France",
    "privacy_contact_name": "Privacy desk",
    "privacy_contact_email": "privacy@groupescr.fr",
    "security_measures": "Access control, encrypted backups, logged administration.",
    "source": "Security policy v4",
}


def test_the_profile_starts_from_the_agreement_and_lists_what_it_lacks(
    api: TestClient, staff: dict, tenant_a: Tenant
) -> None:
    seeded = api.get("/v1/processor", headers=tenant_a.headers)
    assert seeded.status_code == 200, seeded.text
    body = seeded.json()
    assert (body["version"], body["name"], body["privacy_contact_email"]) == (
        1,
        "Groupe SCR",
        "privacy@groupescr.fr",
    )
    assert body["missing"] == ["address", "security_measures"]


def test_staff_replace_it_with_a_new_version_and_the_old_stays(
    api: TestClient, staff: dict, tenant_a: Tenant
) -> None:
    refused = api.put("/v1/processor", json=FULL, headers=tenant_a.headers)
    assert refused.status_code == 403
    changed = api.put("/v1/processor", json=FULL, headers=staff)
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2 and changed.json()["missing"] == []
    versions = api.get("/v1/processor/versions", headers=tenant_a.headers).json()
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[1]["address"] is None  # the earlier version, as it was
    bad = api.put("/v1/processor", json={**FULL, "privacy_contact_email": "nope"}, headers=staff)
    assert bad.status_code == 422
    assert api.get("/v1/processor", headers=staff).json()["version"] == 2

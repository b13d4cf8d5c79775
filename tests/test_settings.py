"""Settings come from DPA_ environment variables (SPEC §3)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.settings import Settings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DPA_DATABASE_URL", "DPA_WORKER_ENABLED", "DPA_BREACH_REMINDER_HOURS"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert settings.database_url == "sqlite:///./var/dpa.sqlite3"
    assert settings.worker_enabled is True
    assert settings.webhook_allow_private is False
    assert settings.breach_reminder_hours == [24, 48, 66]
    assert settings.breach_escalation_minutes == 15
    assert settings.smtp_host is None


def test_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DPA_BREACH_REMINDER_HOURS", "48, 12,24")
    monkeypatch.setenv("DPA_WORKER_ENABLED", "false")
    monkeypatch.setenv("DPA_DATABASE_URL", "postgresql+psycopg://u@db/dpa")
    settings = Settings(_env_file=None)
    assert settings.breach_reminder_hours == [12, 24, 48]
    assert settings.worker_enabled is False
    assert settings.database_url == "postgresql+psycopg://u@db/dpa"


@pytest.mark.parametrize("hours", ["72", "0", "24,abc"])
def test_reminders_must_fall_inside_the_72_hours(monkeypatch: pytest.MonkeyPatch, hours: str):
    monkeypatch.setenv("DPA_BREACH_REMINDER_HOURS", hours)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)


@pytest.mark.parametrize("keys", ["short", "x" * 40 + ",short", " , "])
def test_sealing_keys_must_be_strong(monkeypatch: pytest.MonkeyPatch, keys: str) -> None:
    monkeypatch.setenv("DPA_SEALING_KEYS", keys)
    with pytest.raises(ValidationError, match=r"sealing|at least one key"):
        Settings(_env_file=None)


def test_the_sealing_ring_is_newest_first_and_ends_with_the_secret_key() -> None:
    new, old = "n" * 40, "o" * 40
    settings = Settings(_env_file=None, secret_key="s" * 40, sealing_keys=f" {new} ,{old}")
    assert settings.sealing_ring == [new.encode(), old.encode(), b"s" * 40]


def test_the_key_hash_secret_is_created_once_and_private(tmp_path: Path) -> None:
    first = Settings(_env_file=None, var_dir=tmp_path, secret_key=None).key_hash_secret
    second = Settings(_env_file=None, var_dir=tmp_path, secret_key=None).key_hash_secret
    assert first == second
    assert len(first) >= 48
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
    assert Settings(_env_file=None, secret_key="explicit").key_hash_secret == b"explicit"


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    missing = [
        f"DPA_{name.upper()}"
        for name in Settings.model_fields
        if f"`DPA_{name.upper()}`" not in readme
    ]
    assert missing == []

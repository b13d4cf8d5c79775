"""One settings class: each setting is an environment variable with the DPA_ prefix (README)."""

from __future__ import annotations

import contextlib
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DPA_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = Field(
        "sqlite:///./var/dpa.sqlite3",
        description="SQLAlchemy URL. SQLite (embedded default) or postgresql+psycopg://…",
    )
    worker_enabled: bool = Field(
        True, description="Run the scheduler (delivery pump, timers) in this process."
    )
    webhook_allow_private: bool = Field(
        False,
        description="Allow http:// and loopback/private webhook receivers (local use, tests).",
    )
    breach_reminder_hours: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: [24, 48, 66],
        description="Breach reminders, hours after aware_at, until the client acknowledges.",
    )
    breach_escalation_minutes: int = Field(
        15, ge=1, description="Escalate to SCR staff when no client endpoint answered 2xx by then."
    )
    notice_escalation_hours: int = Field(
        24,
        ge=1,
        description="Escalate a non-urgent notice (sub-processor change, audit decision) to SCR "
        "staff when it has not reached the client by then.",
    )
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="Where people reach this service: the base of the links in e-mailed "
        "notices ({DPA_PUBLIC_URL}/notices/{token}).",
    )
    smtp_host: str | None = Field(None, description="E-mail fallback server; off when unset.")
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_from: str = Field("dpa-service@localhost", description="Sender of fallback e-mails.")
    max_body_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        description="The largest request body accepted; larger ones get 413 before they are "
        "read or authenticated.",
    )
    auth_failure_limit: int = Field(
        20,
        ge=1,
        description="Failed authentications one address may make within the window before "
        "it gets 429 (per process).",
    )
    auth_failure_window_seconds: float = Field(60.0, gt=0, description="That window.")
    metrics_token: SecretStr | None = Field(
        None,
        description="A bearer token the Prometheus scraper sends to /metrics; unset, /metrics "
        "needs a staff API key.",
    )
    docs_persist_auth: bool = Field(
        False,
        description="Let Swagger UI keep the pasted API key in the browser's local storage "
        "across sessions (off: it is forgotten when the page closes).",
    )
    secret_key: SecretStr | None = Field(
        None,
        description=(
            "Key for the keyed hash of API keys, and the oldest key of the sealing ring. Unset: "
            "generated once into var_dir/secret_key. Set it explicitly when several hosts share "
            "one PostgreSQL database."
        ),
    )
    sealing_keys: SecretStr | None = Field(
        None,
        description=(
            "Keys that seal secrets at rest, comma-separated, newest first: new values are "
            "sealed under the first, any of them opens what it sealed, and the key derived from "
            "DPA_SECRET_KEY (which sealed everything before) is always the last. To rotate: "
            "put a new key first on every process, then run `dpa secrets rotate-key`."
        ),
    )
    delivery_concurrency: int = Field(
        64, ge=1, le=1000, description="Webhook requests in flight at once, per worker process."
    )
    endpoint_concurrency: int = Field(
        4, ge=1, le=100, description="Requests in flight to one endpoint, per worker process."
    )
    delivery_lease_seconds: int = Field(
        30, ge=16, description="How long a claim lasts; a crashed worker's claims return then."
    )
    worker_idle_seconds: float = Field(
        5.0, gt=0, description="Safety-net tick of the pump; it also wakes on writes and due times."
    )
    database_pool_size: int = Field(
        10,
        ge=1,
        le=200,
        description=(
            "Database connections a process keeps for requests: at most this many requests use "
            "the database at once; the others wait their turn without holding a thread."
        ),
    )
    var_dir: Path = Field(Path("./var"), description="Where local state (SQLite, secret) lives.")
    log_level: str = Field("info", description="Python logging level name.")

    @field_validator("sealing_keys")
    @classmethod
    def _sealing_keys_strong(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            keys = [key.strip() for key in value.get_secret_value().split(",") if key.strip()]
            if not keys:
                raise ValueError("give at least one key, or leave DPA_SEALING_KEYS unset")
            if any(len(key) < 32 for key in keys):
                raise ValueError(
                    "each sealing key must be at least 32 characters (`dpa secrets new-key`)"
                )
        return value

    @field_validator("breach_reminder_hours", mode="before")
    @classmethod
    def _split_hours(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            return [int(part) for part in parts]
        return value

    @field_validator("breach_reminder_hours")
    @classmethod
    def _hours_inside_deadline(cls, value: list[int]) -> list[int]:
        # Seed §2.6: reminders only make sense before the 72-hour notification deadline.
        if any(hour <= 0 or hour >= 72 for hour in value):
            raise ValueError("each reminder must be between 1 and 71 hours after aware_at")
        return sorted(set(value))

    @property
    def sealing_ring(self) -> list[bytes]:
        """DPA_SEALING_KEYS newest first, then DPA_SECRET_KEY (app.crypto)."""
        configured = self.sealing_keys.get_secret_value() if self.sealing_keys else ""
        ring = [key.strip().encode() for key in configured.split(",") if key.strip()]
        return [*ring, self.key_hash_secret]

    @cached_property
    def key_hash_secret(self) -> bytes:
        """The secret for hashing API keys; created on first use when not configured."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        path = self.var_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            candidate = secrets.token_urlsafe(48)
            # Another process may create it first: then its secret is the one used.
            with contextlib.suppress(FileExistsError), path.open("x", encoding="utf-8") as handle:
                handle.write(candidate)
                path.chmod(0o600)
        return path.read_text(encoding="utf-8").strip().encode()

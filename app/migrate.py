"""Alembic, driven from code: `dpa migrate` and the test suite run the migrations. `dpa serve`
and /readyz only compare the database's revision with HEAD, without importing Alembic: it
brings Mako and Pygments with it, ~11 MB of a serving process's memory (SPEC §11: 150 MB idle)
for one string."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# The newest migration in migrations/versions: the schema this code is written for. A new
# migration changes it (tests/test_migrations.py compares it with Alembic's own answer).
HEAD = "f534bf348dd3"
VERSION_TABLE = "alembic_version"  # Alembic's default


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # configparser interpolation: a literal % in a password must be doubled.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(database_url), revision)


def head_revision() -> str | None:
    """The newest migration, as Alembic reads it from the scripts (HEAD should say the same)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The database's revision, as Alembic records it in its version table; None before the
    first migration. Several rows (branches, which this project does not have) come back
    joined, so they never read as HEAD."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        found = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
        versions = sorted(found)
    return ",".join(versions) or None


def at_head(engine: Engine) -> bool:
    return current_revision(engine) == HEAD

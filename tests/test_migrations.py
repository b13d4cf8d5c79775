"""Migrations go up, down and up again on both backends, and match the models exactly."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

import app.models  # noqa: F401
from app import migrate
from app.db import make_engine
from tests.conftest import SKIP_POSTGRES, _fresh_postgres


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    if SKIP_POSTGRES:
        pytest.skip("DPA_TEST_SKIP_POSTGRES=1")
    yield from _fresh_postgres(request.getfixturevalue("postgres_cluster"), "template0")


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(empty_database: str) -> None:
    migrate.upgrade(empty_database)
    assert set(SQLModel.metadata.tables) <= tables(empty_database)
    migrate.downgrade(empty_database, "base")
    assert tables(empty_database) <= {"alembic_version"}
    migrate.upgrade(empty_database)
    engine = make_engine(empty_database)
    try:
        assert migrate.at_head(engine)
    finally:
        engine.dispose()


def test_models_and_migrations_agree(empty_database: str) -> None:
    migrate.upgrade(empty_database)
    engine = make_engine(empty_database)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()
    assert differences == [], f"autogenerate would change: {differences}"


def test_file_names_are_dated_slugs() -> None:
    names = [path.name for path in (migrate.MIGRATIONS_DIR / "versions").glob("*.py")]
    assert names
    for name in names:
        assert len(name) > 11 and name[4] == name[7] == "-" and name[10] == "_", name


def test_the_template_copy_is_at_head(sqlite_template: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.sqlite3"
    shutil.copy(sqlite_template, copy)
    engine = make_engine(f"sqlite:///{copy}")
    try:
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()


def test_listing_order_is_chain_order() -> None:
    """File names start with the revision's date and time (alembic.ini's file_template), so `ls`
    shows the migrations in the order they apply."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(str(migrate.MIGRATIONS_DIR))
    chain = [Path(s.path).name for s in reversed(list(scripts.walk_revisions()))]
    assert chain == sorted(chain)
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}_\d{4}_\w+\.py", name) for name in chain), chain


def test_head_names_the_newest_migration() -> None:
    """`dpa serve` and /readyz compare the database with HEAD; a new migration moves it."""
    assert migrate.head_revision() == migrate.HEAD, (
        f"a new migration: set app.migrate.HEAD to {migrate.head_revision()!r}"
    )


def test_the_revision_is_read_as_alembic_reads_it(empty_database: str) -> None:
    """None before any migration, each revision on the way, HEAD at the end: the same answers
    as Alembic's own MigrationContext (which a serving process no longer imports)."""
    engine = make_engine(empty_database)

    def alembic_says() -> str | None:
        with engine.connect() as connection:
            found: str | None = MigrationContext.configure(connection).get_current_revision()
            return found

    try:
        assert migrate.current_revision(engine) is None and not migrate.at_head(engine)
        migrate.upgrade(empty_database, "+1")
        first = migrate.current_revision(engine)
        assert first is not None and first == alembic_says() and not migrate.at_head(engine)
        migrate.upgrade(empty_database)
        assert migrate.current_revision(engine) == alembic_says() == migrate.HEAD
        assert migrate.at_head(engine)
    finally:
        engine.dispose()


def test_serving_does_not_import_alembic() -> None:
    """Alembic, Mako and Pygments stay out of a serving process (~11 MB of its memory); so does
    psycopg on SQLite (~10 MB; app.loopreads loads it for PostgreSQL only)."""
    script = (
        "import sys\n"
        "import app.cli\n"
        "from app.main import create_app, prepare_routes\n"
        "from app.settings import Settings\n"
        "settings = Settings(_env_file=None, secret_key='x' * 32, database_url='sqlite://')\n"
        "prepare_routes(create_app(settings))\n"
        "unwanted = ('alembic', 'mako', 'pygments', 'psycopg')\n"
        "print(sorted(m for m in unwanted if m in sys.modules))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert output.strip() == "[]"

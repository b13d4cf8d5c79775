"""`dpa`: serve, worker, migrate, keys create|revoke, clients create, secrets new-key|rotate-key,
audit-log verify, openapi export.

Results go to stdout (so scripts can capture them); messages go to stderr."""

from __future__ import annotations

import json
import secrets
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr, ValidationError
from sqlmodel import Session, SQLModel

from app import crypto, heap
from app import migrate as migrations
from app.auditlog import chain
from app.auth import service as auth_service
from app.auth.schemas import ApiKeyPublic, Role
from app.clients import service as clients_service
from app.clients.schemas import ClientCreate, ClientPublic, SubprocessorAuthorisation
from app.clock import SystemClock
from app.context import AppContext
from app.db import make_engine
from app.errors import DomainError
from app.settings import Settings

cli = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
keys_cli = typer.Typer(no_args_is_help=True, help="Create and revoke API keys.")
clients_cli = typer.Typer(no_args_is_help=True, help="Register clients.")
openapi_cli = typer.Typer(no_args_is_help=True, help="The OpenAPI document.")
secrets_cli = typer.Typer(no_args_is_help=True, help="The keys that seal secrets at rest.")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(clients_cli, name="clients")
cli.add_typer(openapi_cli, name="openapi")
cli.add_typer(secrets_cli, name="secrets")
audit_log_cli = typer.Typer(no_args_is_help=True, help="The audit log's hash chain.")
cli.add_typer(audit_log_cli, name="audit-log")

DEFAULT_OPENAPI = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"


def _say(message: str) -> None:
    typer.echo(message, err=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    _say(f"error: {message}")
    return typer.Exit(code)


def _settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:
        raise _fail(f"invalid DPA_ settings:\n{exc}") from exc
    crypto.configure(settings.sealing_ring)
    return settings


def _require_migrated(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    try:
        current = migrations.current_revision(engine)
    except Exception as exc:
        raise _fail(f"cannot reach the database ({type(exc).__name__}: {exc})") from exc
    finally:
        engine.dispose()
    if current != migrations.HEAD:
        raise _fail(
            f"the database is at migration {current or 'none'}, not at head "
            f"{migrations.HEAD}: run `dpa migrate` first"
        )


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the API (and, unless DPA_WORKER_ENABLED=false, run the worker in this process)."""
    import uvicorn

    from app.main import configure_logging, create_app, prepare_routes

    settings = _settings()
    configure_logging(settings.log_level)
    _require_migrated(settings)
    _say(f"dpa-service on http://{host}:{port} — Swagger UI at http://{host}:{port}/docs")
    app = create_app(settings)
    prepare_routes(app)
    heap.freeze()
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower())


@cli.command()
def worker() -> None:
    """Run only the worker: the scheduler that delivers messages and fires timers."""
    from app.main import configure_logging
    from app.worker import Worker

    settings = _settings()
    configure_logging(settings.log_level)
    _require_migrated(settings)
    context = AppContext(settings, make_engine(settings.database_url), SystemClock())
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    context.worker = Worker(context)
    context.worker.start()
    heap.freeze()
    _say("dpa worker running; stop with Ctrl-C or SIGTERM")
    stop.wait()
    context.worker.stop()
    context.engine.dispose()


@cli.command()
def migrate(
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Bring the database schema to a revision (default: the newest)."""
    settings = _settings()
    migrations.upgrade(settings.database_url, revision)
    _say(f"database migrated to {revision} ({migrations.head_revision()})")


@keys_cli.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="`staff` sees everything; `client` one client.")],
    client_id: Annotated[str | None, typer.Option(help="The client of a client key.")] = None,
    name: Annotated[str | None, typer.Option(help="What the key is for.")] = None,
) -> None:
    """Print a new API key on stdout, and nothing else."""
    if (role is Role.client) != (client_id is not None):
        raise _fail("a client key needs --client-id; a staff key takes none", 2)
    settings = _settings()
    _require_migrated(settings)
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            if client_id is not None and not clients_service.client_exists(session, client_id):
                raise _fail(f"no client with id {client_id!r}")
            key, plain = auth_service.create_key(
                session,
                SystemClock(),
                settings.key_hash_secret,
                role=role,
                client_id=client_id,
                name=name,
            )
            chain.append_operator(
                session, SystemClock().now(), "dpa keys create", {"key_id": key.id}, client_id
            )
            session.commit()
            _say(f"created {role.value} key {key.id}; it is shown once:")
    finally:
        engine.dispose()
    typer.echo(plain)


@keys_cli.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key id (`key_…`).")]) -> None:
    """Revoke a key; it fails from its very next request."""
    settings = _settings()
    _require_migrated(settings)
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            try:
                key = auth_service.revoke_key_by_id(session, SystemClock(), key_id)
            except DomainError as exc:
                raise _fail(exc.detail) from exc
            chain.append_operator(
                session, SystemClock().now(), "dpa keys revoke", {"key_id": key.id}, key.client_id
            )
            session.commit()
            typer.echo(ApiKeyPublic.model_validate(key).model_dump_json())
    finally:
        engine.dispose()


@clients_cli.command("create")
def clients_create(
    name: Annotated[str, typer.Option(help="Usual name.")],
    legal_name: Annotated[str, typer.Option(help="Registered legal name.")],
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2.")] = "FR",
    calendar: Annotated[str, typer.Option(help="Holiday calendar: FR, FR-57, …")] = "FR",
    timezone: Annotated[str, typer.Option(help="IANA time zone.")] = "Europe/Paris",
    contract_ref: Annotated[str | None, typer.Option(help="The agreement's reference.")] = None,
    subprocessor_authorisation: Annotated[
        SubprocessorAuthorisation, typer.Option(help="general or specific.")
    ] = SubprocessorAuthorisation.general,
    objection_window_days: Annotated[int, typer.Option(help="Days to object.")] = 30,
) -> None:
    """Register a client and print it as JSON."""
    try:
        data = ClientCreate(
            name=name,
            legal_name=legal_name,
            country=country,
            calendar=calendar,
            timezone=timezone,
            contract_ref=contract_ref,
            subprocessor_authorisation=subprocessor_authorisation,
            objection_window_days=objection_window_days,
        )
    except ValidationError as exc:
        raise _fail(str(exc), 2) from exc
    settings = _settings()
    _require_migrated(settings)
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            client = clients_service.create_client(session, SystemClock(), data)
            chain.append_operator(
                session,
                SystemClock().now(),
                "dpa clients create",
                {"client_id": client.id},
                client.id,
            )
            session.commit()
            typer.echo(ClientPublic.model_validate(client).model_dump_json())
    finally:
        engine.dispose()


@secrets_cli.command("new-key")
def secrets_new_key() -> None:
    """Print a fresh random key for DPA_SEALING_KEYS (nothing is stored)."""
    typer.echo(secrets.token_urlsafe(48))


@secrets_cli.command("rotate-key")
def secrets_rotate_key() -> None:
    """Re-seal every stored secret under the newest key of the ring.

    First put the new key at the front of DPA_SEALING_KEYS on every process and restart them
    (they must all open what the new key seals); then run this. It prints, per sealed column, the
    values moved and the keys they were under. A key may leave the ring once no value is sealed
    under it: a second run then reports everything current."""
    import app.models  # noqa: F401  (every table, so that every sealed column is known)

    settings = _settings()
    _require_migrated(settings)
    engine = make_engine(settings.database_url)
    try:
        counts = crypto.reseal(engine, SQLModel.metadata)
    finally:
        engine.dispose()
    newest = crypto.box().key_id
    for count in counts:
        moved = ", ".join(f"{n} from {key}" for key, n in sorted(count.from_keys.items()))
        _say(
            f"{count.column}: {count.resealed} resealed{f' ({moved})' if moved else ''}, "
            f"{count.current} already under {newest}, {count.skipped} changed meanwhile"
        )
    result = {
        "key_id": newest,
        "columns": [
            {
                "column": count.column,
                "resealed": count.resealed,
                "current": count.current,
                "skipped": count.skipped,
                "from_keys": count.from_keys,
            }
            for count in counts
        ],
    }
    typer.echo(json.dumps(result))


@audit_log_cli.command("verify")
def audit_log_verify() -> None:
    """Recompute the audit log's hash chain from the database. Prints the result as JSON and
    exits 0 when intact (entries and head hash), 1 with the first broken entry otherwise."""
    settings = _settings()
    _require_migrated(settings)
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            result = chain.verify(connection)
    finally:
        engine.dispose()
    typer.echo(json.dumps(result.__dict__))
    if not result.intact:
        raise _fail(f"the audit log is broken at entry {result.broken_seq}: {result.reason}")
    _say(f"intact: {result.entries} entries, head {result.head_hash}")


@openapi_cli.command("export")
def openapi_export(
    output: Annotated[
        Path, typer.Option(help="Where to write it; `-` for stdout.")
    ] = DEFAULT_OPENAPI,
) -> None:
    """Write the OpenAPI document the app serves (a test fails when the file drifts)."""
    text = render_openapi()
    if str(output) == "-":
        sys.stdout.write(text)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    _say(f"wrote {output}")


def render_openapi() -> str:
    from app.main import create_app

    settings = Settings(
        database_url="sqlite://", worker_enabled=False, secret_key=SecretStr("unused")
    )
    return (
        json.dumps(create_app(settings, bootstrap=False).openapi(), indent=2, ensure_ascii=False)
        + "\n"
    )


def main() -> None:
    cli()


if __name__ == "__main__":
    main()

"""API keys: random, high-entropy, stored only as a keyed hash (HMAC-SHA256), revocable."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, or_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.auth.models import ApiKey, BootstrapMarker
from app.auth.principal import Principal, load
from app.auth.schemas import Role
from app.clients.models import Client
from app.clock import Clock
from app.db import as_loaded
from app.errors import Conflict, Unauthorized
from app.ids import new_id
from app.loopreads import LoopReads
from app.pagination import PageParams, Rows, paginate

KEY_PREFIX = "dpa_"
_SECRET_BYTES = 32  # 256 bits
_KEY_LENGTH = len(KEY_PREFIX) + len(secrets.token_urlsafe(_SECRET_BYTES))
_KEY_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
# last_used_at is kept to the minute so that reads do not turn into a write each.
LAST_USED_PRECISION = timedelta(minutes=1)


def hash_key(key: str, secret: bytes) -> str:
    # hmac.digest: the one-shot C function, ~1 us where an HMAC object costs ~5 (every request).
    return hmac.digest(secret, key.encode(), hashlib.sha256).hex()


def create_key(
    session: Session,
    clock: Clock,
    secret: bytes,
    *,
    role: Role,
    client_id: str | None = None,
    name: str | None = None,
    created_by: str | None = None,
) -> tuple[ApiKey, str]:
    """A new key and its plain text, which the caller shows once and never stores."""
    if (role is Role.client) != (client_id is not None):
        raise ValueError("a client key needs a client_id, a staff key must not have one")
    plain = KEY_PREFIX + secrets.token_urlsafe(_SECRET_BYTES)
    key = ApiKey(
        id=new_id("key"),
        role=role.value,
        client_id=client_id,
        name=name,
        # To recognise a key without storing any of its leading secret characters: the
        # scheme and the last four (24 bits of ~256), as payment processors show a card.
        prefix=f"{KEY_PREFIX}…{plain[-4:]}",
        key_hash=hash_key(plain, secret),
        created_at=clock.now(),
        created_by=created_by,
    )
    session.add(key)
    session.flush()
    return key, plain


@dataclass(frozen=True)
class Authenticated:
    principal: Principal
    stale: bool  # last_used_at is due for its per-minute update (`touch_key`)
    # The client a request's path names, read in the same statement when asked for: None when
    # there is none, or when this key may not see it (the tenant scope, in the join).
    client: Client | None = None


def authenticate(
    session: Session,
    clock: Clock,
    secret: bytes,
    authorization: str | None,
    client_id: str | None = None,
) -> Authenticated:
    """Who calls (one statement, every request comes through here), and with `client_id` the
    client of a /v1/clients/{client_id}/… path as well, in that same statement."""
    params = _key_parameters(secret, authorization, client_id)
    key = session.execute(_key_statement(client_id is not None), params).first()
    if key is None:
        raise Unauthorized("Unknown API key.")
    return _authenticated(clock, key, key.Client if client_id is not None else None)


async def authenticate_on_loop(
    reads: LoopReads,
    clock: Clock,
    secret: bytes,
    authorization: str | None,
    client_id: str | None = None,
) -> Authenticated:
    """`authenticate`, the same statement sent on the event loop's own connection
    (app.loopreads). The client it read is detached (`as_loaded`): the caller's session adopts
    it."""
    params = _key_parameters(secret, authorization, client_id)
    key = await reads.first(_key_statement(client_id is not None), params)
    if key is None:
        raise Unauthorized("Unknown API key.")
    client = None
    if client_id is not None and key[5] is not None:
        client = as_loaded(Client, zip(_client_fields(), key[5:], strict=True))
    return _authenticated(clock, key, client)


def _key_parameters(
    secret: bytes, authorization: str | None, client_id: str | None
) -> dict[str, str]:
    if not authorization:
        raise Unauthorized("Missing API key: send `Authorization: Bearer <key>`.")
    scheme, _, plain = authorization.partition(" ")
    plain = plain.strip()
    if (
        scheme.lower() != "bearer"
        or not plain.startswith(KEY_PREFIX)
        or len(plain) != _KEY_LENGTH
        or not _KEY_ALPHABET.issuperset(plain[len(KEY_PREFIX) :])
    ):
        raise Unauthorized(
            "Malformed credentials: expected `Authorization: Bearer dpa_…` with a key this "
            "service issued."
        )
    params = {"key_hash": hash_key(plain, secret)}
    if client_id is not None:
        params["client_id"] = client_id
    return params


def _authenticated(clock: Clock, key: Sequence[Any], client: Client | None) -> Authenticated:
    """From the key's five columns (`_key_statement`)."""
    key_id, role, client_id, revoked_at, last_used_at = key[:5]
    if revoked_at is not None:
        raise Unauthorized(f"API key {key_id} was revoked at {revoked_at.isoformat()}.")
    now = clock.now()
    stale = last_used_at is None or now - last_used_at >= LAST_USED_PRECISION
    principal = Principal(key_id=key_id, role=Role(role), client_id=client_id)
    return Authenticated(principal, stale, client)


@functools.cache
def _key_statement(with_client: bool) -> Select[*tuple[Any, ...]]:
    """The key by its hash: the five columns authentication needs, not an ORM object; with
    `with_client`, also the client a path names, joined when this key may see it (the tenant
    scope in the join). Built once: every request runs it, and building a statement costs more
    than running it (SQLAlchemy also keeps its cache key with the object)."""
    statement: Select[*tuple[Any, ...]] = sa_select(
        col(ApiKey.id),
        col(ApiKey.role),
        col(ApiKey.client_id),
        col(ApiKey.revoked_at),
        col(ApiKey.last_used_at),
    ).where(col(ApiKey.key_hash) == bindparam("key_hash"))
    if with_client:
        visible = (col(ApiKey.role) == Role.staff.value) | (col(ApiKey.client_id) == col(Client.id))
        statement = statement.add_columns(Client).outerjoin(
            Client, (col(Client.id) == bindparam("client_id")) & visible
        )
    return statement


@functools.cache
def _client_fields() -> tuple[str, ...]:
    """The client's attributes in the order `_key_statement` selects them, after the key's."""
    return tuple(str(column.key) for column in _key_statement(True).selected_columns)[5:]


def touch_key(session: Session, key_id: str, now: datetime) -> None:
    """Record a use of the key. The condition keeps a later use from being overwritten by a
    request that started earlier and commits last."""
    session.execute(
        update(ApiKey)
        .where(col(ApiKey.id) == key_id)
        .where(or_(col(ApiKey.last_used_at).is_(None), col(ApiKey.last_used_at) < now))
        .values(last_used_at=now)
    )


def get_visible_key(session: Session, principal: Principal, key_id: str) -> ApiKey:
    return load(session, principal, ApiKey, key_id, ApiKey.client_id, "API key")


def revoke_key(
    session: Session,
    clock: Clock,
    principal: Principal,
    key_id: str,
    *,
    keep_a_staff_key: bool = True,
) -> ApiKey:
    key = get_visible_key(session, principal, key_id)
    if key.revoked_at is not None:
        raise Conflict(f"API key {key_id} is already revoked (at {key.revoked_at.isoformat()}).")
    if keep_a_staff_key and key.role == Role.staff.value:
        # Locked, so two revocations at once cannot each see the other's key as the survivor.
        active_staff = session.exec(
            select(ApiKey.id)
            .where(ApiKey.role == Role.staff.value, col(ApiKey.revoked_at).is_(None))
            .with_for_update()
        ).all()
        if list(active_staff) == [key.id]:
            raise Conflict(
                f"API key {key_id} is the last active staff key: revoking it would lock SCR out "
                "of the service. Create another first; `dpa keys create --role staff` at the "
                "console is the way back.",
                rule="last-active-staff-key",
            )
    key.revoked_at = clock.now()
    session.add(key)
    session.flush()
    return key


def revoke_key_by_id(session: Session, clock: Clock, key_id: str) -> ApiKey:
    """Revocation by an operator at the console (`dpa keys revoke`)."""
    staff = Principal(key_id="console", role=Role.staff, client_id=None)
    # The operator at the console can always make a new key, so nothing to keep here.
    return revoke_key(session, clock, staff, key_id, keep_a_staff_key=False)


def list_client_keys(session: Session, client_id: str, params: PageParams) -> Rows[ApiKey]:
    return paginate(session, select(ApiKey).where(ApiKey.client_id == client_id), ApiKey, params)


def any_staff_key(session: Session) -> bool:
    return (
        session.exec(select(col(ApiKey.id)).where(ApiKey.role == Role.staff.value)).first()
        is not None
    )


STAFF_BOOTSTRAP = "staff_key"


def bootstrap_staff_key(session: Session, clock: Clock, secret: bytes) -> tuple[ApiKey, str] | None:
    """On the first start on an empty database, one staff key (SPEC §4). The marker row's
    primary key makes this happen once even when several processes start together."""
    if session.get(BootstrapMarker, STAFF_BOOTSTRAP) is not None:
        return None
    session.add(BootstrapMarker(name=STAFF_BOOTSTRAP, done_at=clock.now()))
    session.flush()  # a concurrent first start fails here (IntegrityError) and prints nothing
    if any_staff_key(session):
        return None  # an operator already made one with `dpa keys create`
    return create_key(session, clock, secret, role=Role.staff, name="first start")

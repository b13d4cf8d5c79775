"""Who is calling, and what they may see: staff every row, a client key only its own client's.

Every list and every load by id goes through `scoped`, so the rule is written once and applied in
SQL (before a page is cut, so pages stay full). A domain says what "its own" means for a row with
an `Owner`: a column holding the client id, or a function building the condition for one client
(e.g. "one of its recipients is this client"). A row a client may not see answers 404 like a row
that does not exist, never 403: a key never learns whether another client's id exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.auth.schemas import Role
from app.errors import NotFound, RuleViolation, field_errors


@dataclass(frozen=True)
class Principal:
    """Who is calling: a staff key sees everything, a client key only its own client."""

    key_id: str
    role: Role
    client_id: str | None

    @property
    def is_staff(self) -> bool:
        return self.role is Role.staff

    def can_see_client(self, client_id: str) -> bool:
        return self.is_staff or self.client_id == client_id


def acting_for(principal: Principal, client_id: str | None) -> str:
    """The client a request acts for: a client key for its own client; a staff key on behalf of
    the client it names (a staff key must name one)."""
    if principal.is_staff:
        if client_id is None:
            raise RuleViolation(
                "staff-on-behalf-of-client",
                "With a staff key, name the client_id on whose behalf this is recorded.",
                errors=field_errors("body.client_id", "required with a staff key"),
            )
        return client_id
    if client_id not in (None, principal.client_id):
        raise NotFound("client", str(client_id))
    assert principal.client_id is not None
    return principal.client_id


Row = TypeVar("Row")
# "Its own", for one client: the column holding the owning client's id, or a condition.
Owner = Callable[[str], ColumnElement[bool]] | Any


def _condition(owner: Owner, client_id: str) -> ColumnElement[bool]:
    if callable(owner) and not hasattr(owner, "__clause_element__"):
        return owner(client_id)
    return col(owner) == client_id


def scoped(
    statement: SelectOfScalar[Row], principal: Principal, owner: Owner
) -> SelectOfScalar[Row]:
    """The statement, narrowed to the caller's own rows unless the caller is staff."""
    if principal.is_staff:
        return statement
    assert principal.client_id is not None  # a client key always names its client
    return statement.where(_condition(owner, principal.client_id))


def load(
    session: Session, principal: Principal, model: type[Row], row_id: str, owner: Owner, what: str
) -> Row:
    """The row with this id if the caller may see it; otherwise 404 naming `what`."""
    statement = select(model).where(col(model.id) == row_id)  # type: ignore[attr-defined]
    row = session.exec(scoped(statement, principal, owner)).first()
    if row is None:
        raise NotFound(what, row_id)
    return row


def of_client(session: Session, model: type[Row], row_id: str, client_id: str, what: str) -> Row:
    """A record under a client already loaded through the scope (its contacts, audits,
    exceptions, requests, feeds): the row with this id if it is that client's, else 404."""
    row = session.get(model, row_id)
    if row is None or getattr(row, "client_id", None) != client_id:
        raise NotFound(what, row_id)
    return row

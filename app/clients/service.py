"""Rules for clients and contacts. Plain functions taking a session and a clock."""

from __future__ import annotations

from sqlmodel import Session, col, select

from app.auth.principal import Principal, load, of_client, scoped
from app.clients.models import Client, Contact
from app.clients.schemas import ClientCreate, ClientUpdate, ContactCreate, ContactRole
from app.clock import Clock
from app.errors import Conflict, RuleViolation, field_errors
from app.ids import new_id
from app.pagination import PageParams, Rows, paginate


def create_client(session: Session, clock: Clock, data: ClientCreate) -> Client:
    now = clock.now()
    client = Client(id=new_id("cli"), created_at=now, updated_at=now, **data.model_dump())
    session.add(client)
    session.flush()
    return client


def get_client(session: Session, principal: Principal, client_id: str) -> Client:
    """The client, if this principal may see it; otherwise 404, never 403 (no existence leak)."""
    return load(session, principal, Client, client_id, Client.id, "client")


def client_exists(session: Session, client_id: str) -> bool:
    return session.get(Client, client_id) is not None


def unknown_clients(session: Session, client_ids: list[str]) -> list[str]:
    """The ids, in their order, that name no client: one query however many are given."""
    known = set(session.exec(select(Client.id).where(col(Client.id).in_(set(client_ids)))).all())
    return [client_id for client_id in client_ids if client_id not in known]


def list_clients(session: Session, principal: Principal, params: PageParams) -> Rows[Client]:
    return paginate(session, scoped(select(Client), principal, Client.id), Client, params)


def update_client(session: Session, clock: Clock, client: Client, data: ClientUpdate) -> Client:
    for name, value in data.model_dump(exclude_unset=True).items():
        setattr(client, name, value)
    client.updated_at = clock.now()
    session.add(client)
    session.flush()
    return client


def add_contact(session: Session, clock: Clock, client: Client, data: ContactCreate) -> Contact:
    now = clock.now()
    if data.communicated_at > now:
        raise RuleViolation(
            "contact-communicated-in-past",
            "communicated_at is when the client gave this contact in writing; it cannot be in "
            f"the future (now is {now.isoformat()}).",
            errors=field_errors("body.communicated_at", "in the future"),
        )
    contact = Contact(
        id=new_id("con"), client_id=client.id, created_at=now, **data.model_dump(mode="python")
    )
    if data.role is ContactRole.dpo:
        previous = current_dpo(session, client.id)
        if previous is not None:
            # Seed §2.3: naming a new DPO ends the previous one's term; the history stays.
            if data.communicated_at < previous.communicated_at:
                raise RuleViolation(
                    "dpo-succession-order",
                    f"The current DPO ({previous.id}) was communicated at "
                    f"{previous.communicated_at.isoformat()}; a successor cannot have been "
                    "communicated earlier.",
                )
            previous.ended_at = data.communicated_at
            previous.replaced_by_id = contact.id
            session.add(previous)
            session.flush()
    session.add(contact)
    session.flush()
    return contact


def current_dpo(session: Session, client_id: str) -> Contact | None:
    return session.exec(
        select(Contact).where(
            Contact.client_id == client_id,
            Contact.role == ContactRole.dpo.value,
            Contact.ended_at.is_(None),  # type: ignore[union-attr]
        )
    ).first()


def notice_recipients(session: Session, client_id: str) -> list[str]:
    """Where notices go by e-mail: the current DPO, privacy and security contacts. Seed §2.3
    lets a client name a "data privacy contact point" instead of a DPO."""
    roles = [ContactRole.dpo.value, ContactRole.privacy.value, ContactRole.security.value]
    contacts = session.exec(
        select(Contact).where(
            Contact.client_id == client_id,
            col(Contact.role).in_(roles),
            Contact.ended_at.is_(None),  # type: ignore[union-attr]
        )
    ).all()
    return list(dict.fromkeys(contact.email for contact in contacts))


def get_contact(session: Session, client: Client, contact_id: str) -> Contact:
    return of_client(session, Contact, contact_id, client.id, "contact")


def list_contacts(
    session: Session,
    client: Client,
    params: PageParams,
    role: ContactRole | None = None,
    current: bool | None = None,
) -> Rows[Contact]:
    statement = select(Contact).where(Contact.client_id == client.id)
    if role is not None:
        statement = statement.where(Contact.role == role.value)
    if current is True:
        statement = statement.where(Contact.ended_at.is_(None))  # type: ignore[union-attr]
    elif current is False:
        statement = statement.where(Contact.ended_at.is_not(None))  # type: ignore[union-attr]
    return paginate(session, statement, Contact, params)


def end_contact(session: Session, clock: Clock, client: Client, contact_id: str) -> Contact:
    contact = get_contact(session, client, contact_id)
    if contact.ended_at is not None:
        raise Conflict(
            f"Contact {contact_id}'s term already ended at {contact.ended_at.isoformat()}."
        )
    contact.ended_at = clock.now()
    session.add(contact)
    session.flush()
    return contact

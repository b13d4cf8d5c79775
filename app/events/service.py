"""Events and endpoints. `emit` is the one call other domains use: it only writes rows, in the
caller's transaction, so an event exists exactly when the change it reports does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from app.auth.principal import Principal, load, scoped
from app.clients import service as clients_service
from app.clock import Clock
from app.db import affected, insert_rows
from app.errors import Conflict, NotFound, RuleViolation, field_errors
from app.events import contract, signing, ssrf, types, wake
from app.events.models import Delivery, DeliveryAttempt, EmailAttempt, Event, WebhookEndpoint
from app.events.schemas import EndpointCreate, EndpointUpdate
from app.events.types import DeliveryStatus
from app.ids import new_id
from app.pagination import PageParams, Rows, paginate

ROTATION_OVERLAP = timedelta(hours=24)


def emit(
    session: Session,
    clock: Clock,
    type: str,
    subject: str,
    data: dict[str, Any],
    *,
    client_id: str | None = None,
    only_endpoint_id: str | None = None,
) -> Event:
    """Record an event for a client (or, with client_id None, for SCR staff) and queue one
    delivery per enabled endpoint of that audience subscribed to the type."""
    _check(type, data)
    now = clock.now()
    event = Event(
        **_event_row(type, subject, data, client_id, now), only_endpoint_id=only_endpoint_id
    )
    session.add(event)
    for endpoint_id in _endpoints_for(session, client_id, type, only_endpoint_id):
        _queue(session, event, endpoint_id, now)
    return event


@dataclass(frozen=True)
class Emitted:
    event_id: str
    client_id: str | None
    deliveries: int  # how many endpoints it was queued for: 0 when the audience has none


def emit_many(
    session: Session,
    clock: Clock,
    type: str,
    subject: str,
    items: list[tuple[str | None, dict[str, Any]]],
) -> list[Emitted]:
    """`emit` for many audiences at once (a fan-out): one query for their endpoints, and the
    events and deliveries written as two multi-row inserts, not one unit of work per row."""
    for _, data in items:
        _check(type, data)
    now = clock.now()
    found = receivers(session, [client_id for client_id, _ in items], type)
    events = [_event_row(type, subject, data, client_id, now) for client_id, data in items]
    deliveries = [
        _delivery_row(event["id"], endpoint_id, event["urgent"], now)
        for event in events
        for endpoint_id in found[event["client_id"]]
    ]
    insert_rows(session, Event, events)
    insert_rows(session, Delivery, deliveries)
    if deliveries:
        wake.work_written(session)
    return [Emitted(e["id"], e["client_id"], len(found[e["client_id"]])) for e in events]


def _check(type: str, data: dict[str, Any]) -> None:
    if type not in types.EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    contract.check(type, data)  # an event that leaves its schema is never sent


def _event_row(
    type: str, subject: str, data: dict[str, Any], client_id: str | None, now: datetime
) -> dict[str, Any]:
    return {
        "id": new_id("evt"),
        "type": type,
        "client_id": client_id,
        "subject": subject,
        "data": data,
        "urgent": types.is_urgent(type),
        "created_at": now,
    }


def _delivery_row(event_id: str, endpoint_id: str, urgent: bool, now: datetime) -> dict[str, Any]:
    return {
        "id": new_id("dlv"),
        "event_id": event_id,
        "endpoint_id": endpoint_id,
        "status": DeliveryStatus.pending.value,
        "urgent": urgent,
        "next_attempt_at": now,
        "created_at": now,
    }


def _queue(session: Session, event: Event, endpoint_id: str, now: datetime) -> Delivery:
    delivery = Delivery(**_delivery_row(event.id, endpoint_id, event.urgent, now))
    session.add(delivery)
    wake.work_written(session)
    return delivery


def _endpoints_for(
    session: Session, client_id: str | None, event_type: str, only_endpoint_id: str | None
) -> list[str]:
    """The endpoints an event goes to: its audience's subscribed ones, or the one it names
    (an endpoint test) if that one is still enabled and the audience's."""
    if only_endpoint_id is None:
        return receivers(session, [client_id], event_type)[client_id]
    statement = select(WebhookEndpoint.id).where(
        WebhookEndpoint.id == only_endpoint_id,
        col(WebhookEndpoint.enabled).is_(True),
        col(WebhookEndpoint.client_id).is_(None)
        if client_id is None
        else col(WebhookEndpoint.client_id) == client_id,
    )
    return list(session.exec(statement))


def receivers(
    session: Session, client_ids: list[str | None], event_type: str
) -> dict[str | None, list[str]]:
    """For each audience (a client, or None for SCR staff), its enabled endpoints subscribed
    to the type: one query however many audiences."""
    found: dict[str | None, list[str]] = {client_id: [] for client_id in client_ids}
    named = {client_id for client_id in client_ids if client_id is not None}
    audience = [col(WebhookEndpoint.client_id).in_(named)] if named else []
    if None in found:
        audience.append(col(WebhookEndpoint.client_id).is_(None))
    if not audience:
        return found
    statement = select(
        col(WebhookEndpoint.id), col(WebhookEndpoint.client_id), col(WebhookEndpoint.event_types)
    ).where(col(WebhookEndpoint.enabled).is_(True), or_(*audience))
    for endpoint_id, client_id, event_types in session.exec(statement):
        if types.subscribed(event_types, event_type):
            found[client_id].append(endpoint_id)
    return found


def has_receiver(session: Session, client_id: str | None, event_type: str) -> bool:
    """Whether an enabled endpoint of this audience is subscribed to the type."""
    return bool(receivers(session, [client_id], event_type)[client_id])


def about(
    session: Session, principal: Principal, subject: str
) -> tuple[list[Event], list[Delivery], list[DeliveryAttempt], list[EmailAttempt]]:
    """Every event about a record, every attempt to deliver them and every e-mail sent about
    it: the record's timeline. A client gets only what was meant for it."""
    statement = scoped(select(Event).where(Event.subject == subject), principal, Event.client_id)
    emails = scoped(
        select(EmailAttempt).where(EmailAttempt.subject == subject),
        principal,
        EmailAttempt.client_id,
    )
    found = list(session.exec(statement))
    ids = [event.id for event in found]
    if not ids:
        return found, [], [], list(session.exec(emails))
    deliveries = list(session.exec(select(Delivery).where(col(Delivery.event_id).in_(ids))))
    attempts = list(
        session.exec(select(DeliveryAttempt).where(col(DeliveryAttempt.event_id).in_(ids)))
    )
    return found, deliveries, attempts, list(session.exec(emails))


# --- endpoints ---------------------------------------------------------------------------


def _check_url(url: str, allow_private: bool) -> None:
    try:
        ssrf.check_url(url, allow_private)
    except ssrf.UnsafeURL as exc:
        raise RuleViolation(
            "webhook-url-ssrf",
            f"The webhook URL is refused: {exc}. Receivers must be https, without "
            "credentials, on public addresses.",
            errors=field_errors("body.url", str(exc)),
        ) from exc


def _owner(session: Session, principal: Principal, data: EndpointCreate) -> str | None:
    if principal.is_staff:
        if data.client_id is not None:
            clients_service.get_client(session, principal, data.client_id)
        return data.client_id
    if "client_id" in data.model_fields_set and data.client_id != principal.client_id:
        raise NotFound("client", str(data.client_id))
    return principal.client_id


def _check_contact(
    session: Session, principal: Principal, client_id: str | None, contact_id: str | None
) -> None:
    if contact_id is None:
        return
    if client_id is None:
        raise RuleViolation(
            "endpoint-contact-owner",
            "SCR staff's own receiver has no client contact; leave contact_id out.",
        )
    client = clients_service.get_client(session, principal, client_id)
    clients_service.get_contact(session, client, contact_id)


def create_endpoint(
    session: Session, clock: Clock, principal: Principal, data: EndpointCreate, allow_private: bool
) -> WebhookEndpoint:
    client_id = _owner(session, principal, data)
    _check_contact(session, principal, client_id, data.contact_id)
    _check_url(data.url, allow_private)
    now = clock.now()
    endpoint = WebhookEndpoint(
        id=new_id("whe"),
        client_id=client_id,
        url=data.url,
        description=data.description,
        contact_id=data.contact_id,
        event_types=data.event_types,
        enabled=data.enabled,
        secret=signing.new_secret(),
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def get_endpoint(session: Session, principal: Principal, endpoint_id: str) -> WebhookEndpoint:
    owner = WebhookEndpoint.client_id
    return load(session, principal, WebhookEndpoint, endpoint_id, owner, "webhook endpoint")


def list_endpoints(
    session: Session, principal: Principal, params: PageParams, client_id: str | None = None
) -> Rows[WebhookEndpoint]:
    statement = scoped(select(WebhookEndpoint), principal, WebhookEndpoint.client_id)
    if client_id is not None:
        statement = statement.where(WebhookEndpoint.client_id == client_id)
    return paginate(session, statement, WebhookEndpoint, params)


def update_endpoint(
    session: Session,
    clock: Clock,
    principal: Principal,
    endpoint: WebhookEndpoint,
    data: EndpointUpdate,
    allow_private: bool,
) -> WebhookEndpoint:
    changes = data.model_dump(exclude_unset=True)
    for name in ("url", "event_types", "enabled"):
        if name in changes and changes[name] is None:
            raise RuleViolation("endpoint-field-required", f"{name} cannot be null.")
    if "url" in changes:
        _check_url(changes["url"], allow_private)
    if "contact_id" in changes:
        _check_contact(session, principal, endpoint.client_id, changes["contact_id"])
    enabling = changes.get("enabled") is True and not endpoint.enabled
    disabling = changes.pop("enabled", None) is False and endpoint.enabled
    for name, value in changes.items():
        setattr(endpoint, name, value)
    if enabling:
        endpoint.enabled, endpoint.disabled_reason = True, None
    endpoint.updated_at = clock.now()
    session.add(endpoint)
    if disabling:
        disable_endpoint(session, clock, endpoint, "disabled by a user", notify=False)
    session.flush()
    return endpoint


def disable_endpoint(
    session: Session, clock: Clock, endpoint: WebhookEndpoint, reason: str, notify: bool = True
) -> None:
    """Stop sending to an endpoint. Its pending deliveries fail visibly (recover resends them);
    on a receiver's 410, staff (and the owning client) get endpoint.disabled."""
    now = clock.now()
    endpoint.enabled, endpoint.disabled_reason, endpoint.updated_at = False, reason, now
    session.add(endpoint)
    session.execute(
        update(Delivery)
        .where(
            col(Delivery.endpoint_id) == endpoint.id,
            col(Delivery.status) == DeliveryStatus.pending.value,
        )
        .values(
            status=DeliveryStatus.failed.value,
            next_attempt_at=None,
            last_error=f"endpoint disabled: {reason}",
        )
        .execution_options(synchronize_session=False)
    )
    if notify:
        data = {
            "endpoint_id": endpoint.id,
            "client_id": endpoint.client_id,
            "url": endpoint.url,
            "reason": reason,
            "disabled_at": now.isoformat(),
        }
        emit(session, clock, "endpoint.disabled", endpoint.id, data, client_id=None)
        if endpoint.client_id is not None:
            emit(
                session, clock, "endpoint.disabled", endpoint.id, data, client_id=endpoint.client_id
            )


def rotate_secret(session: Session, clock: Clock, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    now = clock.now()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + ROTATION_OVERLAP
    endpoint.secret = signing.new_secret()
    endpoint.updated_at = now
    session.add(endpoint)
    session.flush()
    return endpoint


def send_test(session: Session, clock: Clock, endpoint: WebhookEndpoint) -> Event:
    if not endpoint.enabled:
        raise Conflict(f"Webhook endpoint {endpoint.id} is disabled; enable it first.")
    return emit(
        session,
        clock,
        "webhook.test",
        endpoint.id,
        {"endpoint_id": endpoint.id, "message": "Test message from dpa-service."},
        client_id=endpoint.client_id,
        only_endpoint_id=endpoint.id,
    )


def recover(session: Session, clock: Clock, endpoint: WebhookEndpoint, since: datetime) -> int:
    """Queue again every failed delivery to this endpoint created since `since`."""
    if not endpoint.enabled:
        raise Conflict(f"Webhook endpoint {endpoint.id} is disabled; enable it first.")
    now = clock.now()
    requeued = affected(
        session.execute(
            update(Delivery)
            .where(
                col(Delivery.endpoint_id) == endpoint.id,
                col(Delivery.status) == DeliveryStatus.failed.value,
                col(Delivery.created_at) >= since,
            )
            .values(
                status=DeliveryStatus.pending.value,
                next_attempt_at=now,
                retry_index=0,
                lease_owner=None,
                lease_expires_at=None,
            )
            .execution_options(synchronize_session=False)
        )
    )
    if requeued:
        wake.work_written(session)
    return requeued


# --- events ------------------------------------------------------------------------------


def get_event(session: Session, principal: Principal, event_id: str) -> Event:
    return load(session, principal, Event, event_id, Event.client_id, "event")


def list_events(
    session: Session,
    principal: Principal,
    params: PageParams,
    type: str | None = None,
    subject: str | None = None,
    client_id: str | None = None,
) -> Rows[Event]:
    statement = scoped(select(Event), principal, Event.client_id)
    if client_id is not None:
        statement = statement.where(Event.client_id == client_id)
    if type is not None:
        statement = statement.where(Event.type == type)
    if subject is not None:
        statement = statement.where(Event.subject == subject)
    return paginate(session, statement, Event, params)


def redeliver(session: Session, clock: Clock, event: Event) -> list[Delivery]:
    """Send the event again (same webhook-id) to every endpoint that should have it now."""
    now = clock.now()
    existing = {
        d.endpoint_id: d
        for d in session.exec(select(Delivery).where(Delivery.event_id == event.id))
    }
    queued = []
    for endpoint_id in _endpoints_for(session, event.client_id, event.type, event.only_endpoint_id):
        delivery = existing.get(endpoint_id)
        if delivery is None:
            queued.append(_queue(session, event, endpoint_id, now))
            continue
        if delivery.status == DeliveryStatus.pending and delivery.lease_owner is not None:
            queued.append(delivery)  # in flight right now
            continue
        delivery.status, delivery.next_attempt_at, delivery.retry_index = (
            DeliveryStatus.pending.value,
            now,
            0,
        )
        delivery.lease_owner = delivery.lease_expires_at = None
        session.add(delivery)
        queued.append(delivery)
    session.flush()
    if queued:
        wake.work_written(session)
    return queued


def list_deliveries(session: Session, event: Event, params: PageParams) -> Rows[Delivery]:
    return paginate(
        session, select(Delivery).where(Delivery.event_id == event.id), Delivery, params
    )


def list_attempts(
    session: Session,
    params: PageParams,
    *,
    event_id: str | None = None,
    endpoint_id: str | None = None,
) -> Rows[DeliveryAttempt]:
    statement = select(DeliveryAttempt)
    if event_id is not None:
        statement = statement.where(DeliveryAttempt.event_id == event_id)
    if endpoint_id is not None:
        statement = statement.where(DeliveryAttempt.endpoint_id == endpoint_id)
    return paginate(session, statement, DeliveryAttempt, params)

"""Reading breaches: who sees which, the view each caller gets, and the timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Row
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.auth.principal import Principal, load, scoped
from app.breaches import deadlines
from app.breaches.models import Breach, BreachNotice
from app.breaches.schemas import (
    Art33Content,
    BreachPublic,
    BreachStatus,
    Nature,
    NoticePublic,
    TimelineEntry,
)
from app.clock import Clock
from app.events import service as events
from app.notices import service as notices
from app.notices.schemas import NotifiedVia
from app.pagination import PageParams, Rows, paginate


def notices_of(session: Session, breach_id: str) -> list[BreachNotice]:
    return list(
        session.exec(
            select(BreachNotice)
            .where(BreachNotice.breach_id == breach_id)
            .order_by(col(BreachNotice.client_id))
        )
    )


class NoticeFacts(Protocol):
    """What a view needs of one client's part of a breach (a BreachNotice, or a row of it)."""

    @property
    def notified_at(self) -> datetime | None: ...


def notice_rows(session: Session, breach_id: str) -> list[Row[Any]]:
    """The breach's notices as the view shows them: the columns, not objects. A breach may
    touch thousands of clients; loading that many objects cost the breach POST ~4 times as much
    at a process's first breach (the ORM builds its loading for the class then), ~1.3 times
    after. Selected through the model's columns, so the session's pending changes are flushed
    first, as for a load of objects."""
    return list(
        session.execute(
            sa_select(
                col(BreachNotice.id),
                col(BreachNotice.client_id),
                col(BreachNotice.notify_deadline),
                col(BreachNotice.notified_at),
                col(BreachNotice.acknowledged_at),
                col(BreachNotice.deadline_missed_at),
                col(BreachNotice.delay_reason),
            )
            .where(col(BreachNotice.breach_id) == breach_id)
            .order_by(col(BreachNotice.client_id))
        )
    )


def _concerns(client_id: str) -> ColumnElement[bool]:
    """A client's own breaches: those it was notified of, and those it reported."""
    notified = select(BreachNotice.breach_id).where(BreachNotice.client_id == client_id)
    return col(Breach.id).in_(notified) | (col(Breach.reported_by_client_id) == client_id)


def get_breach(session: Session, principal: Principal, breach_id: str) -> Breach:
    return load(session, principal, Breach, breach_id, _concerns, "breach")


def view(session: Session, clock: Clock, principal: Principal, breach: Breach) -> BreachPublic:
    now = clock.now()
    event_deadline = deadlines.event_deadline(breach.occurred_at)
    parts = [n for n in notice_rows(session, breach.id) if principal.can_see_client(n.client_id)]
    sent = notices.of_subjects(session, [part.id for part in parts])
    return BreachPublic(
        **Art33Content.model_validate(breach, from_attributes=True).model_dump(),
        id=breach.id,
        aware_at=breach.aware_at,
        occurred_at=breach.occurred_at,
        nature=[Nature(nature) for nature in breach.nature],
        description=breach.description,
        status=BreachStatus(breach.status),
        contact_point=breach.contact_point,
        created_at=breach.created_at,
        updated_at=breach.updated_at,
        closed_at=breach.closed_at,
        reported_by_client_id=breach.reported_by_client_id,
        staff_acknowledged_at=breach.staff_acknowledged_at,
        event_deadline=event_deadline,
        notices=[_notice_view(part, sent[part.id], event_deadline, now) for part in parts],
    )


def _notice_view(
    notice: Row[Any],
    sent: list[notices.Sent],
    event_deadline: datetime | None,
    now: datetime,
) -> NoticePublic:
    escalations = [n.escalated_at for n in sent if n.escalated_at is not None]
    return NoticePublic(
        client_id=notice.client_id,
        state="notified" if notice.notified_at else "pending",
        notify_deadline=notice.notify_deadline,
        seconds_to_notify_deadline=deadlines.seconds_left(notice.notify_deadline, now),
        notified_at=notice.notified_at,
        notified_via=next(
            (
                NotifiedVia(n.notified_via)
                for n in sent
                if n.notified_via is not None and n.notified_at == notice.notified_at
            ),
            None,
        ),
        controller_deadline=(
            deadlines.controller_deadline(notice.notified_at) if notice.notified_at else None
        ),
        late_against_event=late_against_event(notice, event_deadline),
        acknowledged_at=notice.acknowledged_at,
        escalated_at=min(escalations) if escalations else None,
        deadline_missed_at=notice.deadline_missed_at,
        delay_reason=notice.delay_reason,
    )


def late_against_event(notice: NoticeFacts, event_deadline: datetime | None) -> bool:
    """Seed §2.6 counts 72 hours "following the event": a notice that reached the client after
    occurred_at + 72 h is late against the contract, even when it met the Art. 33 deadline."""
    return (
        event_deadline is not None
        and notice.notified_at is not None
        and notice.notified_at > event_deadline
    )


def list_breaches(
    session: Session, principal: Principal, params: PageParams, status: BreachStatus | None
) -> Rows[Breach]:
    statement = scoped(select(Breach), principal, _concerns)
    if status is not None:
        statement = statement.where(Breach.status == status.value)
    return paginate(session, statement, Breach, params)


def timeline(session: Session, principal: Principal, breach: Breach) -> list[TimelineEntry]:
    found, deliveries, attempts, emails = events.about(session, principal, breach.id)
    by_id = {event.id: event for event in found}
    entries = (
        [
            TimelineEntry(
                at=e.created_at,
                kind="event",
                event_id=e.id,
                event_type=e.type,
                client_id=e.client_id,
            )
            for e in found
        ]
        + [
            TimelineEntry(
                at=d.created_at,
                kind="delivery",
                event_id=d.event_id,
                event_type=by_id[d.event_id].type,
                client_id=by_id[d.event_id].client_id,
                endpoint_id=d.endpoint_id,
                outcome=d.status,
            )
            for d in deliveries
        ]
        + [
            TimelineEntry(
                at=a.attempted_at,
                kind="attempt",
                event_id=a.event_id,
                event_type=by_id[a.event_id].type,
                client_id=by_id[a.event_id].client_id,
                endpoint_id=a.endpoint_id,
                outcome=a.outcome,
                status_code=a.status_code,
                error=a.error,
            )
            for a in attempts
        ]
        + [
            TimelineEntry(
                at=m.attempted_at,
                kind="email",
                event_id=m.id,
                event_type="email",
                client_id=m.client_id,
                outcome=m.outcome,
                error=m.error,
            )
            for m in emails
        ]
    )
    order = {"event": 0, "delivery": 1, "attempt": 2, "email": 3}
    return sorted(entries, key=lambda entry: (entry.at, order[entry.kind]))


def concerns_client(session: Session, breach_id: str, client_id: str) -> bool:
    """Whether a breach touches this client's data (it was notified of it, or reported it)."""
    found = select(Breach.id).where(Breach.id == breach_id, _concerns(client_id))
    return session.exec(found).first() is not None

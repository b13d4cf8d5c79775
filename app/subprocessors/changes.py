"""Change notices (seed §2.8): every affected client is told before a sub-processor is added or
replaced; `general` clients may object until their deadline (counted in working days from the
notice reaching them), `specific` clients and transfer cases must approve."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select

from app.auth.principal import Principal, acting_for, load, scoped
from app.clients.models import Client
from app.clock import Clock
from app.errors import Conflict, NotFound, RuleViolation, field_errors
from app.events import service as events
from app.events import timers
from app.events.timers import TimerKind
from app.ids import new_id
from app.notices import service as notices
from app.notices.models import Notice
from app.pagination import PageParams, Rows, paginate
from app.settings import Settings
from app.subprocessors import service
from app.subprocessors.models import (
    ChangeNotice,
    ChangeRecipient,
    SubProcessor,
)
from app.subprocessors.schemas import (
    ChangeCreate,
    ChangeKind,
    ChangePublic,
    RecipientPublic,
)
from app.workdays import local_date, objection_deadline, within_deadline

DEADLINE_SOON = TimerKind.change_deadline_soon
NOTICE_KIND = "subprocessor_change"
SOON_BEFORE = timedelta(days=3)


def create_change(
    session: Session, clock: Clock, settings: Settings, principal: Principal, data: ChangeCreate
) -> ChangeNotice:
    """Seed §2.8: tell every affected client before the change; `general` clients may object
    until their deadline, `specific` clients and transfer cases must approve."""
    subs = []
    for sub_id in dict.fromkeys(data.subprocessor_ids):
        sub = session.get(SubProcessor, sub_id)
        if sub is None:
            raise RuleViolation(
                "unknown-subprocessor",
                f"No sub-processor with id {sub_id!r}.",
                errors=field_errors("body.subprocessor_ids", f"unknown {sub_id}"),
            )
        subs.append(sub)
    if data.client_ids is None:
        client_ids = list(dict.fromkeys(c for sub in subs for c in sub.client_ids))
    else:
        client_ids = service.check_clients(session, data.client_ids, "body.client_ids")
    if not client_ids:
        raise RuleViolation(
            "change-notice-recipients",
            "This change notice would reach no client: name client_ids, or list the clients on "
            "the sub-processors whose data they would touch.",
            errors=field_errors("body.client_ids", "no client"),
        )
    now = clock.now()
    transfer_consent = any(service.assessment(sub).needs_safeguards for sub in subs)
    recipients = []
    windows: dict[str, int] = {}
    last_day = None
    found = session.exec(select(Client).where(col(Client.id).in_(client_ids)))
    clients = {client.id: client for client in found}
    for client_id in client_ids:
        client = clients[client_id]
        recipients.append(
            ChangeRecipient(
                id=new_id("scr"),
                notice_id="",
                client_id=client_id,
                requires_approval=client.subprocessor_authorisation == "specific"
                or transfer_consent,
            )
        )
        windows[client_id] = client.objection_window_days
        # Each deadline runs from the notice's arrival; the earliest it can end is if it
        # arrives today.
        soonest = _deadline_for(client, now)
        day = local_date(soonest, client.timezone)
        last_day = day if last_day is None or day > last_day else last_day
    assert last_day is not None
    if data.effective_date <= last_day:
        earliest = last_day + timedelta(days=1)
        raise RuleViolation(
            "change-effective-after-objections",
            "The change cannot take effect before every client's objection deadline has passed "
            f"(counted from the notice's arrival, the last ends on {last_day.isoformat()} at "
            f"the soonest): the earliest effective date is {earliest.isoformat()}.",
            earliest_effective_date=earliest.isoformat(),
            errors=field_errors("body.effective_date", f"before {earliest.isoformat()}"),
        )
    notice = ChangeNotice(
        id=new_id("spc"),
        kind=data.kind.value,
        subprocessor_ids=[s.id for s in subs],
        description=data.description,
        effective_date=data.effective_date,
        created_by=principal.key_id,
        created_at=now,
    )
    session.add(notice)
    session.flush()
    for recipient in recipients:
        recipient.notice_id = notice.id
    session.add_all(recipients)
    session.flush()
    # Every affected client at once (one endpoint query, multi-row inserts), as for a breach.
    notices.send_many(
        session,
        clock,
        kind=NOTICE_KIND,
        event_type="subprocessor.change_notice",
        event_subject=notice.id,
        parts=[
            notices.Part(
                recipient.id,
                recipient.client_id,
                message(
                    notice,
                    subs,
                    recipient,
                    # The deadline itself is known once the notice arrives (counted from then).
                    objection_window_days=windows[recipient.client_id],
                ),
            )
            for recipient in recipients
        ],
        escalate_after=timedelta(hours=settings.notice_escalation_hours),
    )
    return notice


def _deadline_for(client: Client, arrived_at: datetime) -> datetime:
    return objection_deadline(
        arrived_at, client.objection_window_days, client.calendar, client.timezone
    )


@notices.on_notified(NOTICE_KIND)
def on_notified(session: Session, clock: Clock, sent: list[notices.Arrival]) -> None:
    """Change notices reached their clients: each one's objection window starts now (SPEC §6)."""
    for notice in sent:
        _window_starts(session, clock, notice)


def _window_starts(session: Session, clock: Clock, sent: notices.Arrival) -> None:
    recipient = session.get(ChangeRecipient, sent.subject)
    client = session.get(Client, sent.client_id)
    if recipient is None or client is None or recipient.notified_at is not None:
        return
    assert sent.notified_at is not None
    recipient.notified_at = sent.notified_at
    recipient.objection_deadline = _deadline_for(client, sent.notified_at)
    session.add(recipient)
    if recipient.response is None:
        window = recipient.objection_deadline - sent.notified_at
        timers.schedule(
            session,
            clock,
            kind=DEADLINE_SOON,
            subject=recipient.id,
            client_id=recipient.client_id,
            due_at=recipient.objection_deadline - min(SOON_BEFORE, window / 2),
        )


def message(
    notice: ChangeNotice, subs: list[SubProcessor], recipient: ChangeRecipient, **extra: Any
) -> dict[str, Any]:
    return {
        "change_id": notice.id,
        "client_id": recipient.client_id,
        "kind": notice.kind,
        "description": notice.description,
        "effective_date": notice.effective_date.isoformat(),
        "objection_deadline": (
            recipient.objection_deadline.isoformat() if recipient.objection_deadline else None
        ),
        "requires_approval": recipient.requires_approval,
        "subprocessors": [
            {
                "id": s.id,
                "name": s.name,
                "service": s.service,
                "processing_countries": s.processing_countries,
            }
            for s in subs
        ],
        **extra,
    }


def _recipients(session: Session, notice_id: str) -> list[ChangeRecipient]:
    return list(
        session.exec(
            select(ChangeRecipient)
            .where(ChangeRecipient.notice_id == notice_id)
            .order_by(col(ChangeRecipient.client_id))
        )
    )


def _told(client_id: str) -> ColumnElement[bool]:
    """A client's own change notices: those it is a recipient of."""
    told = select(ChangeRecipient.notice_id).where(ChangeRecipient.client_id == client_id)
    return col(ChangeNotice.id).in_(told)


def get_change(session: Session, principal: Principal, change_id: str) -> ChangeNotice:
    return load(session, principal, ChangeNotice, change_id, _told, "sub-processor change")


def list_changes(session: Session, principal: Principal, params: PageParams) -> Rows[ChangeNotice]:
    statement = scoped(select(ChangeNotice), principal, _told)
    return paginate(session, statement, ChangeNotice, params)


def change_view(session: Session, principal: Principal, notice: ChangeNotice) -> ChangePublic:
    return ChangePublic(
        id=notice.id,
        kind=ChangeKind(notice.kind),
        subprocessor_ids=notice.subprocessor_ids,
        description=notice.description,
        effective_date=notice.effective_date,
        created_at=notice.created_at,
        recipients=[
            RecipientPublic(
                client_id=r.client_id,
                requires_approval=r.requires_approval,
                state="notified" if r.notified_at else "notice_pending",
                notified_at=r.notified_at,
                objection_deadline=r.objection_deadline,
                response=r.response,
                reason=r.reason,
                responded_at=r.responded_at,
            )
            for r in _recipients(session, notice.id)
            if principal.can_see_client(r.client_id)
        ],
    )


def respond(
    session: Session,
    clock: Clock,
    principal: Principal,
    notice: ChangeNotice,
    response: str,
    client_id: str | None,
    reason: str | None,
) -> ChangeNotice:
    """An objection or an approval, by the client or recorded by staff on its behalf."""
    target = acting_for(principal, client_id)
    recipient = next((r for r in _recipients(session, notice.id) if r.client_id == target), None)
    if recipient is None:
        raise NotFound("change notice for client", str(target))
    _answer(session, clock, notice, recipient, response, reason, by=principal.key_id)
    return notice


def _answer(
    session: Session,
    clock: Clock,
    notice: ChangeNotice,
    recipient: ChangeRecipient,
    response: str,
    reason: str | None,
    *,
    by: str,
    contact_email: str | None = None,
) -> None:
    now = clock.now()
    # As it is now, and locked until this answer commits (PostgreSQL): the worker may have
    # recorded the notice's 2xx since the request read it (its window started then, and
    # acknowledging would find the notice notified already), and a second answer at the same
    # moment waits for this one and sees it.
    session.flush()
    session.refresh(recipient, with_for_update=True)
    if recipient.response is not None:
        raise Conflict(f"Already {recipient.response} at {recipient.responded_at}.")
    if recipient.notified_at is None:
        # The client's own answer proves the notice reached it: its window starts now.
        notices.acknowledge(
            session, clock, subject=recipient.id, client_id=recipient.client_id, by=by
        )
        # Read once more now that this answer has written (on SQLite no other writer commits
        # before it does): the window the acknowledgement started, or the one the worker's 2xx
        # started if it committed between the read above and the acknowledgement.
        session.flush()
        session.refresh(recipient)
    assert recipient.objection_deadline is not None
    if response == "objected" and not within_deadline(now, recipient.objection_deadline):
        raise RuleViolation(
            "objection-deadline-passed",
            f"The objection deadline was {recipient.objection_deadline.isoformat()}; objections "
            "are no longer accepted.",
            objection_deadline=recipient.objection_deadline.isoformat(),
        )
    if response == "objected" and not reason:
        raise RuleViolation(
            "objection-reason",
            "An objection needs a reason.",
            errors=field_errors("body.reason", "required"),
        )
    recipient.response, recipient.reason = response, reason
    recipient.responded_at, recipient.responded_by = now, by
    session.add(recipient)
    timers.cancel(session, clock, subject=recipient.id)
    subs = subprocessors_of(session, notice)
    event = "subprocessor.objection" if response == "objected" else "subprocessor.approval"
    extra: dict[str, Any] = {"reason": reason}
    if contact_email is not None:
        extra["answered_by_contact"] = contact_email
    events.emit(
        session,
        clock,
        event,
        notice.id,
        message(notice, subs, recipient, **extra),
        client_id=None,
    )
    session.flush()


@notices.on_answer(NOTICE_KIND, actions=("object", "approve"))
def answer_by_link(
    session: Session, clock: Clock, sent: Notice, answer: notices.ContactAnswer
) -> None:
    recipient = session.get(ChangeRecipient, sent.subject)
    notice = session.get(ChangeNotice, recipient.notice_id) if recipient else None
    if recipient is None or notice is None:
        raise NotFound("change notice for client", sent.subject)
    response = "objected" if answer.action == "object" else "approved"
    _answer(
        session,
        clock,
        notice,
        recipient,
        response,
        answer.reason,
        by=answer.link_id,
        contact_email=answer.contact_email,
    )


def subprocessors_of(session: Session, notice: ChangeNotice) -> list[SubProcessor]:
    found = (session.get(SubProcessor, sub_id) for sub_id in notice.subprocessor_ids)
    return [sub for sub in found if sub is not None]

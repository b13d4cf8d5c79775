"""The one rule of when a client has been told (SPEC §8.4), and what happens until it has.

A domain that owes a client a message calls `send()`: the event is written (transactional
outbox) with a notice row in state `pending`. The notice becomes `notified` at the first of: a
2xx from one of the client's endpoints subscribed to the type (delivery hook), the client's
DPO / privacy / security contacts' mail server accepting the fallback e-mail, or the client's
acknowledgement. If the client has no endpoint for the type, or none answered 2xx within the
escalation delay, SCR staff get an escalation event and the notice goes by e-mail, retried on
the event's schedule. Domains learn of the arrival through `on_notified` hooks; they never decide
it themselves."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, Update, bindparam, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.clients import service as clients_service
from app.clock import Clock
from app.db import among, execute_many, expire_loaded, insert_rows, table_of
from app.events import email, retry, timers, types
from app.events import service as events
from app.events.models import Event
from app.events.timers import TimerKind
from app.events.types import AttemptOutcome
from app.ids import new_id
from app.notices import links
from app.notices.models import Notice
from app.notices.schemas import NotifiedVia
from app.settings import Settings

log = logging.getLogger("dpa.notices")

ESCALATION, EMAIL = TimerKind.notice_escalation, TimerKind.notice_email
# Every event type that carries a duty to inform: flows.py hooks their deliveries, and send()
# refuses any other, so a notice can never be sent that no 2xx would mark notified.
NOTICE_TYPES = (
    "breach.notified",
    "breach.reminder",
    "breach.updated",
    "disclosure_request.received",
    "instruction.objected",
    "subprocessor.change_notice",
    "audit.accepted",
    "audit.rejected",
    "audit.scheduled",
    "audit.cancelled",
)
# Each gets every notice of its kind that arrived in one transaction (a batch of 2xx).
NOTIFIED_HOOKS: dict[str, Callable[[Session, Clock, list[Arrival]], None]] = {}


@dataclass(frozen=True)
class Arrival:
    """A notice that reached its client, as a domain's `on_notified` hook gets it."""

    notice_id: str
    kind: str
    subject: str  # the domain's record (a breach notice, a change recipient, a request)
    client_id: str
    notified_at: datetime


@dataclass(frozen=True)
class ContactAnswer:
    """What a client's contact answered from an e-mailed link (SPEC §8.4)."""

    action: str  # acknowledge, object or approve
    reason: str | None
    link_id: str  # recorded as who answered (`nlk_…`): the link names the contact
    contact_email: str


# What a contact may answer from an e-mailed link, per kind of notice, and who records it.
Answer = Callable[[Session, Clock, Notice, ContactAnswer], None]
ANSWERS: dict[str, tuple[tuple[str, ...], Answer]] = {}


NotifiedHook = Callable[[Session, Clock, list[Arrival]], None]


def on_notified(kind: str) -> Callable[[NotifiedHook], NotifiedHook]:
    """Register what a domain does when one of its notices of `kind` first reaches the client."""

    def register(hook: NotifiedHook) -> NotifiedHook:
        NOTIFIED_HOOKS[kind] = hook
        return hook

    return register


def on_answer(kind: str, *, actions: tuple[str, ...]) -> Callable[[Answer], Answer]:
    """Register the answers a contact may give to a notice of `kind` from its e-mailed link
    (acknowledge; object or approve) and the domain function that records one."""

    def register(answer: Answer) -> Answer:
        ANSWERS[kind] = (actions, answer)
        return answer

    return register


def send(
    session: Session,
    clock: Clock,
    *,
    kind: str,
    subject: str,
    client_id: str,
    event_type: str,
    event_subject: str,
    data: dict[str, Any],
    escalate_after: timedelta,
    escalation_type: str = "notice.escalated",
) -> Notice:
    """Write the event for the client and its notice, pending until it arrives. `subject` is
    the client's part the notice is about (its breach notice, its change recipient row);
    `event_subject` the record the event is filed under (the breach, the change notice)."""
    (notice_id,) = send_many(
        session,
        clock,
        kind=kind,
        event_type=event_type,
        event_subject=event_subject,
        parts=[Part(subject, client_id, data)],
        escalate_after=escalate_after,
        escalation_type=escalation_type,
    )
    notice = session.get(Notice, notice_id)
    assert notice is not None
    return notice


@dataclass(frozen=True)
class Part:
    """One client's notice in a fan-out: its part of the record, and what it is told."""

    subject: str
    client_id: str
    data: dict[str, Any]


def send_many(
    session: Session,
    clock: Clock,
    *,
    kind: str,
    event_type: str,
    event_subject: str,
    parts: list[Part],
    escalate_after: timedelta,
    escalation_type: str = "notice.escalated",
) -> list[str]:
    """`send` to many clients at once (a breach's fan-out): events, deliveries, notices and
    escalation timers written as multi-row inserts. Returns the notices' ids, in order."""
    if event_type not in NOTICE_TYPES:
        raise ValueError(f"{event_type!r} is not a notice type (notices.service.NOTICE_TYPES)")
    emitted = events.emit_many(
        session, clock, event_type, event_subject, [(part.client_id, part.data) for part in parts]
    )
    now = clock.now()
    rows: list[dict[str, Any]] = [
        {
            "id": new_id("ntc"),
            "kind": kind,
            "subject": part.subject,
            "client_id": part.client_id,
            "event_id": event.event_id,
            "event_type": event_type,
            "urgent": types.is_urgent(event_type),
            "escalation_type": escalation_type,
            "created_at": now,
        }
        for part, event in zip(parts, emitted, strict=True)
    ]
    insert_rows(session, Notice, rows)
    reached = [(row, event) for row, event in zip(rows, emitted, strict=True) if event.deliveries]
    timers.schedule_many(
        session,
        [
            timers.row(now, ESCALATION, row["id"], now + escalate_after, row["client_id"])
            for row, _ in reached
        ],
    )
    for row, event in zip(rows, emitted, strict=True):
        if not event.deliveries:
            notice, sent = session.get(Notice, row["id"]), session.get(Event, event.event_id)
            assert notice is not None and sent is not None
            _escalate(session, clock, notice, sent, f"the client has no endpoint for {event_type}")
    return [row["id"] for row in rows]


def of_subject(session: Session, subject: str, client_id: str | None = None) -> list[Notice]:
    statement = select(Notice).where(Notice.subject == subject)
    if client_id is not None:
        statement = statement.where(Notice.client_id == client_id)
    return list(session.exec(statement.order_by(col(Notice.created_at), col(Notice.id))))


@dataclass(frozen=True)
class Sent:
    """How far one notice got: what a view of its subject shows."""

    notified_at: datetime | None
    notified_via: str | None
    escalated_at: datetime | None


def of_subjects(session: Session, subjects: list[str]) -> dict[str, list[Sent]]:
    """The notices of several subjects in one query (a breach's view of all its clients): the
    columns a view needs, not objects (a breach may have thousands)."""
    found: dict[str, list[Sent]] = {subject: [] for subject in subjects}
    for row in session.execute(_of_subjects_statement(), {"subjects": subjects}):
        found[row.subject].append(Sent(row.notified_at, row.notified_via, row.escalated_at))
    return found


@functools.cache
def _of_subjects_statement() -> Select[*tuple[Any, ...]]:
    """Built once, the subjects bound as one list: the breach POST's view reads its thousand
    clients' notices with it, and an expanding IN compiled a placeholder per subject at every
    call."""
    table = table_of(Notice)
    return (
        sa_select(table.c.subject, table.c.notified_at, table.c.notified_via, table.c.escalated_at)
        .where(among(table.c.subject, "subjects"))
        .order_by(table.c.created_at, table.c.id)
    )


def acknowledge(
    session: Session, clock: Clock, *, subject: str, client_id: str, by: str
) -> list[Notice]:
    """The client confirms it has the notices about `subject`: that proves receipt, so each
    becomes notified (if no channel had got through yet) and acknowledged."""
    now = clock.now()
    found = of_subject(session, subject, client_id)
    acknowledged = []
    for notice in found:
        if notice.acknowledged_at is None:
            notice.acknowledged_at, notice.acknowledged_by = now, by
            session.add(notice)
            acknowledged.append(notice)
    arrived = [(notice, now) for notice in found]
    _mark_notified(session, clock, arrived, NotifiedVia.acknowledgement)
    return acknowledged


def _mark_notified(
    session: Session, clock: Clock, arrived: list[tuple[Notice, datetime]], via: NotifiedVia
) -> None:
    """These notices (loaded in this session) reached their clients, each at its time."""
    arrivals = []
    for notice, at in arrived:
        if notice.notified_at is not None:
            continue  # the first arrival counts
        notice.notified_at, notice.notified_via = at, via.value
        session.add(notice)
        arrivals.append(Arrival(notice.id, notice.kind, notice.subject, notice.client_id, at))
    _arrived(session, clock, arrivals)


def _arrived(session: Session, clock: Clock, arrivals: list[Arrival]) -> None:
    """Notified notices: their escalation and e-mail timers stop, and each domain's hook
    learns of its own, in one call per kind."""
    reached = [arrival.notice_id for arrival in arrivals]
    timers.cancel_many(session, clock, reached, kinds=[ESCALATION, EMAIL])
    by_kind: dict[str, list[Arrival]] = {}
    for arrival in arrivals:
        by_kind.setdefault(arrival.kind, []).append(arrival)
    for kind, found in by_kind.items():
        hook = NOTIFIED_HOOKS.get(kind)
        if hook is not None:
            hook(session, clock, found)


# --- the engine's side (registered in flows.py) --------------------------------------------


def on_delivered(session: Session, clock: Clock, delivered: list[tuple[str, datetime]]) -> None:
    """2xx answers from clients' endpoints, as (event id, when): one query for the notices,
    each notified at its event's first 2xx."""
    first: dict[str, datetime] = {}
    for event_id, at in delivered:
        first[event_id] = min(at, first.get(event_id, at))
    # The worker's own session holds no notice objects: rows in, one executemany out.
    unnotified, notify = _delivered_statements()
    arrivals = sorted(
        (
            Arrival(row.id, row.kind, row.subject, row.client_id, first[row.event_id])
            for row in session.execute(unnotified, {"events": list(first)})
        ),
        key=lambda arrival: (arrival.notified_at, arrival.notice_id),
    )
    if arrivals:
        execute_many(
            session, notify, [{"b_id": a.notice_id, "at": a.notified_at} for a in arrivals]
        )
        expire_loaded(
            session, Notice, {a.notice_id for a in arrivals}, "notified_at", "notified_via"
        )
    _arrived(session, clock, arrivals)


@functools.cache
def _delivered_statements() -> tuple[Select[*tuple[Any, ...]], Update]:
    """Built once (every recorded batch of 2xx runs them): the notices of some events not yet
    notified, and the executemany that notifies them."""
    table = table_of(Notice)
    unnotified = sa_select(
        table.c.id, table.c.kind, table.c.subject, table.c.client_id, table.c.event_id
    ).where(among(table.c.event_id, "events"), table.c.notified_at.is_(None))
    notify = (
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.notified_at.is_(None))
        .values(notified_at=bindparam("at"), notified_via=NotifiedVia.webhook.value)
    )
    return unnotified, notify


def on_escalation(session: Session, clock: Clock, notice_id: str) -> None:
    notice = session.get(Notice, notice_id)
    if notice is None or notice.notified_at is not None or notice.escalated_at is not None:
        return
    event = session.get(Event, notice.event_id)
    assert event is not None
    _escalate(
        session,
        clock,
        notice,
        event,
        "no endpoint of the client answered 2xx within the escalation delay",
    )


def _escalate(session: Session, clock: Clock, notice: Notice, event: Event, reason: str) -> None:
    """Tell SCR staff, and send the notice by e-mail to the client's contacts."""
    notice.escalated_at = clock.now()
    session.add(notice)
    _email_soon(session, clock, notice)
    data = {
        **{k: v for k, v in event.data.items() if k.endswith("_id") and k != "client_id"},
        "client_id": notice.client_id,
        "notice_id": notice.id,
        "notice_kind": notice.kind,
        "event_type": notice.event_type,
        "reason": reason,
    }
    if "notify_deadline" in event.data:
        data["notify_deadline"] = event.data["notify_deadline"]
    events.emit(session, clock, notice.escalation_type, event.subject, data, client_id=None)


def _email_soon(
    session: Session,
    clock: Clock,
    notice: Notice,
    attempt: int = 0,
    due_at: datetime | None = None,
    first_at: datetime | None = None,
) -> None:
    """The e-mail fallback, as a timer: durable, retried on the event's schedule."""
    now = clock.now()
    timers.schedule(
        session,
        clock,
        kind=EMAIL,
        subject=notice.id,
        due_at=due_at or now,
        client_id=notice.client_id,
        payload={"attempt": attempt, "first_at": (first_at or now).isoformat()},
    )


TITLES = {
    "breach.notified": "Personal data breach",
    "breach.reminder": "Reminder: personal data breach",
    "breach.updated": "Update: personal data breach",
    "disclosure_request.received": "An authority asked for your data",
    "instruction.objected": "SCR objects to an instruction as infringing the law",
    "subprocessor.change_notice": "Intended change of sub-processors",
}


def on_email(
    session: Session, clock: Clock, settings: Settings, notice_id: str, payload: dict[str, Any]
) -> None:
    notice = session.get(Notice, notice_id)
    if notice is None or notice.notified_at is not None:
        return  # a webhook got through meanwhile, or the client acknowledged
    event = session.get(Event, notice.event_id)
    assert event is not None
    title = f"[dpa-service] {TITLES.get(notice.event_type, notice.event_type)} ({event.subject})"
    body = "\n".join(f"{key}: {value}" for key, value in event.data.items())
    recipients = clients_service.notice_recipients(session, notice.client_id)
    if notice.kind in ANSWERS and recipients:
        # One message per contact, each with its own link: the answer is recorded as the
        # client's, with the e-mail of the contact who gave it.
        messages = [
            (
                [recipient],
                f"{body}\n\n{links.invitation(session, clock, settings, notice, recipient)}",
            )
            for recipient in recipients
        ]
    else:
        messages = [(recipients, body)]
    attempts = [
        email.send(
            session,
            clock,
            settings,
            subject=event.subject,
            client_id=notice.client_id,
            recipients=to,
            title=title,
            body=text,
        )
        for to, text in messages
    ]
    accepted = [a for a in attempts if a.outcome == AttemptOutcome.success]
    if accepted:
        # The client's designated contacts have it: that is a notification.
        _mark_notified(session, clock, [(notice, accepted[0].attempted_at)], NotifiedVia.email)
        return
    first_at = datetime.fromisoformat(payload.get("first_at", clock.now().isoformat()))
    retry_at = retry.next_retry(
        urgent=notice.urgent,
        retry_index=int(payload.get("attempt", 0)),
        first_attempt_at=first_at,
        now=clock.now(),
    )
    if retry_at is not None:
        _email_soon(session, clock, notice, int(payload.get("attempt", 0)) + 1, retry_at, first_at)
    else:
        log.error("notice %s: the e-mail fallback gave up; SCR staff were escalated", notice.id)


def cancel(session: Session, clock: Clock, *, subject: str) -> None:
    """The duty is over (a breach closed): no more escalation or e-mail for its notices."""
    for notice in of_subject(session, subject):
        timers.cancel(session, clock, subject=notice.id, kinds=[ESCALATION, EMAIL])

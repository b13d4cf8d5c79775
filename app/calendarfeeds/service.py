"""Deadline calendars (SPEC §10): an iCalendar (RFC 5545) feed of one client's dates, written
with the `icalendar` library. Each event has a stable UID, a SEQUENCE raised when its time
moves, a VALARM 24 hours before, and a link back to the resource."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import icalendar
from sqlmodel import Session, col, select, update

from app.audits.models import Audit
from app.auth.principal import Principal, of_client
from app.auth.service import hash_key
from app.breaches.models import Breach, BreachNotice
from app.calendarfeeds.models import CalendarFeed, CalendarSequence
from app.clients.models import Client
from app.clock import Clock
from app.errors import Conflict, NotFound
from app.ids import new_id
from app.security_exceptions.models import SecurityException
from app.security_exceptions.schemas import ExceptionStatus
from app.settings import Settings
from app.subject_requests.models import DataSubjectRequest
from app.subject_requests.schemas import DsrStatus
from app.subprocessors.models import ChangeRecipient

TOKEN_PREFIX = "calf_"
ALARM_BEFORE = timedelta(hours=24)
LIVE_AUDITS = ("requested", "pending_agreement", "pending_verification", "accepted", "scheduled")


def feed_url(settings: Settings, token: str) -> str:
    return f"{settings.public_url.rstrip('/')}/v1/calendar-feeds/{token}.ics"


def create(
    session: Session,
    clock: Clock,
    settings: Settings,
    principal: Principal,
    client: Client,
    name: str | None,
) -> tuple[CalendarFeed, str]:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    feed = CalendarFeed(
        id=new_id("cal"),
        client_id=client.id,
        name=name,
        token_hash=hash_key(token, settings.key_hash_secret),
        created_by=principal.key_id,
        created_at=clock.now(),
    )
    session.add(feed)
    session.flush()
    return feed, feed_url(settings, token)


def list_feeds(session: Session, client: Client) -> list[CalendarFeed]:
    return list(
        session.exec(
            select(CalendarFeed)
            .where(CalendarFeed.client_id == client.id)
            .order_by(col(CalendarFeed.created_at).desc())
        ).all()
    )


def revoke(session: Session, clock: Clock, client: Client, feed_id: str) -> CalendarFeed:
    feed = of_client(session, CalendarFeed, feed_id, client.id, "calendar feed")
    if feed.revoked_at is not None:
        raise Conflict(f"Calendar feed {feed_id} was revoked at {feed.revoked_at.isoformat()}.")
    feed.revoked_at = clock.now()
    session.add(feed)
    session.flush()
    return feed


def open_feed(session: Session, settings: Settings, token: str) -> CalendarFeed:
    """The live feed a token names; unknown and revoked tokens look the same (404)."""
    feed = session.exec(
        select(CalendarFeed).where(
            CalendarFeed.token_hash == hash_key(token, settings.key_hash_secret)
        )
    ).first()
    if feed is None or feed.revoked_at is not None:
        raise NotFound("calendar feed", "this token")
    return feed


@dataclass(frozen=True)
class Entry:
    uid: str
    summary: str
    start: datetime | date
    end: datetime | date | None
    link: str
    description: str


def _entries(session: Session, settings: Settings, client: Client, now: datetime) -> list[Entry]:
    base = f"{settings.public_url.rstrip('/')}/v1"
    found: list[Entry] = []
    for notice, breach in session.exec(
        select(BreachNotice, Breach)
        .join(Breach, col(Breach.id) == BreachNotice.breach_id)
        .where(BreachNotice.client_id == client.id)
    ).all():
        found.append(
            Entry(
                uid=f"{notice.id}.notify-deadline",
                summary=f"Breach {breach.id}: 72-hour notification deadline",
                start=notice.notify_deadline,
                end=None,
                link=f"{base}/breaches/{breach.id}",
                description="Seed §2.6: notified at the latest 72 hours after the event."
                + (f" Notified at {notice.notified_at.isoformat()}." if notice.notified_at else ""),
            )
        )
    for recipient in session.exec(
        select(ChangeRecipient).where(
            ChangeRecipient.client_id == client.id,
            col(ChangeRecipient.objection_deadline).is_not(None),
        )
    ).all():
        assert recipient.objection_deadline is not None
        found.append(
            Entry(
                uid=f"{recipient.id}.objection-deadline",
                summary=f"Sub-processor change {recipient.notice_id}: objection deadline",
                start=recipient.objection_deadline,
                end=None,
                link=f"{base}/subprocessor-changes/{recipient.notice_id}",
                description="Seed §2.8: the last moment to object to this change."
                + (f" Answered: {recipient.response}." if recipient.response else ""),
            )
        )
    for audit in session.exec(
        select(Audit).where(Audit.client_id == client.id, col(Audit.status).in_(LIVE_AUDITS))
    ).all():
        start = audit.scheduled_start or audit.proposed_start
        end = audit.scheduled_end or audit.proposed_end
        found.append(
            Entry(
                uid=f"{audit.id}.audit",
                summary=f"Audit {audit.id} ({audit.status})",
                start=start,
                end=end + timedelta(days=1),  # DTEND of an all-day event is exclusive
                link=f"{base}/clients/{client.id}/audits/{audit.id}",
                description="Seed §2.5: audit dates, on 30 working days' notice.",
            )
        )
    for exception in session.exec(
        select(SecurityException).where(
            SecurityException.client_id == client.id,
            SecurityException.status == ExceptionStatus.approved.value,
            col(SecurityException.ends_at) > now,
        )
    ).all():
        found.append(
            Entry(
                uid=f"{exception.id}.ends",
                summary=f"Security exception {exception.id} ends",
                start=exception.ends_at,
                end=None,
                link=f"{base}/clients/{client.id}/security-exceptions/{exception.id}",
                description="Seed §2.3: the agreed security measures apply again.",
            )
        )
    for request in session.exec(
        select(DataSubjectRequest).where(
            DataSubjectRequest.client_id == client.id,
            DataSubjectRequest.status == DsrStatus.open.value,
        )
    ).all():
        found.append(
            Entry(
                uid=f"{request.id}.due",
                summary=f"Data-subject request {request.id} ({request.kind}) due",
                start=request.due_at,
                end=None,
                link=f"{base}/clients/{client.id}/data-subject-requests/{request.id}",
                description="Seed §2.5: the client's order about a data subject is due.",
            )
        )
    return found


def _sequence(session: Session, uid: str, moment: str) -> int:
    """The event's SEQUENCE: 0 when first seen, +1 each time its time is seen to have moved.
    Compare-and-set, so two polls at once raise it once."""
    stored = session.get(CalendarSequence, uid)
    if stored is None:
        session.add(CalendarSequence(uid=uid, moment=moment, sequence=0))
        session.flush()
        return 0
    if stored.moment != moment:
        session.execute(
            update(CalendarSequence)
            .where(col(CalendarSequence.uid) == uid, col(CalendarSequence.moment) != moment)
            .values(moment=moment, sequence=CalendarSequence.sequence + 1)
        )
        session.refresh(stored)
    return stored.sequence


def render(session: Session, clock: Clock, settings: Settings, feed: CalendarFeed) -> bytes:
    client = session.get(Client, feed.client_id)
    if client is None:
        raise NotFound("calendar feed", "this token")
    now = clock.now()
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//dpa-service//deadline calendar//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"{client.name}: data-processing deadlines")
    for entry in sorted(_entries(session, settings, client, now), key=lambda e: e.uid):
        moment = f"{entry.start.isoformat()}/{entry.end.isoformat() if entry.end else ''}"
        event = icalendar.Event()
        event.add("uid", f"{entry.uid}@dpa-service")
        event.add("dtstamp", now)
        event.add("dtstart", entry.start)
        if entry.end is not None:
            event.add("dtend", entry.end)
        event.add("sequence", _sequence(session, entry.uid, moment))
        event.add("summary", entry.summary)
        event.add("description", entry.description)
        event.add("url", entry.link)
        alarm = icalendar.Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", entry.summary)
        alarm.add("trigger", -ALARM_BEFORE)
        event.add_component(alarm)
        calendar.add_component(event)
    ical: bytes = calendar.to_ical()
    return ical

"""The links e-mailed notices carry (SPEC §8.4): `{DPA_PUBLIC_URL}/notices/{token}`, one per
contact, single use, expiring, bound to the client, the notice and the contact. The token is
random (256 bits) and stored only as a keyed hash, like an API key."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, select

from app.auth.service import hash_key
from app.clock import Clock
from app.events.models import Event
from app.ids import new_id
from app.notices.models import Notice, NoticeLink
from app.settings import Settings

# Long enough to answer a change notice within its objection window (30 days by default, more
# after weekends and holidays); the domains' own rules still refuse a late objection.
VALID_FOR = timedelta(days=60)


class LinkUnknown(Exception):
    """No link has this token (mistyped, tampered with, or never issued)."""


class LinkExpired(Exception):
    """The link ran out of time."""


@dataclass
class Opened:
    link: NoticeLink
    notice: Notice
    event: Event
    actions: tuple[str, ...]


def invitation(
    session: Session, clock: Clock, settings: Settings, notice: Notice, contact_email: str
) -> str:
    """The paragraph an e-mail carries: a new link for this contact."""
    token = secrets.token_urlsafe(32)
    now = clock.now()
    session.add(
        NoticeLink(
            id=new_id("nlk"),
            notice_id=notice.id,
            client_id=notice.client_id,
            contact_email=contact_email,
            token_hash=hash_key(token, settings.key_hash_secret),
            created_at=now,
            expires_at=now + VALID_FOR,
        )
    )
    url = f"{settings.public_url.rstrip('/')}/notices/{token}"
    return (
        f"Answer here (this link is yours alone, works once, until "
        f"{(now + VALID_FOR).date().isoformat()}):\n{url}"
    )


def open_link(session: Session, clock: Clock, settings: Settings, token: str) -> Opened:
    from app.notices.service import ANSWERS

    link = session.exec(
        select(NoticeLink).where(NoticeLink.token_hash == hash_key(token, settings.key_hash_secret))
    ).first()
    if link is None:
        raise LinkUnknown
    notice = session.get(Notice, link.notice_id)
    event = session.get(Event, notice.event_id) if notice else None
    if notice is None or event is None or notice.kind not in ANSWERS:
        raise LinkUnknown
    if clock.now() >= link.expires_at and link.used_at is None:
        raise LinkExpired
    return Opened(link, notice, event, ANSWERS[notice.kind][0])


def answer(session: Session, clock: Clock, opened: Opened, action: str, reason: str | None) -> None:
    """Record the contact's answer as the client's, once. The domain's rules apply (a late
    objection is refused); the link is spent only when the answer is recorded."""
    from app.notices.service import ANSWERS, ContactAnswer

    _actions, record = ANSWERS[opened.notice.kind]
    answered = ContactAnswer(action, reason, opened.link.id, opened.link.contact_email)
    record(session, clock, opened.notice, answered)
    opened.link.used_at, opened.link.used_action = clock.now(), action
    session.add(opened.link)
    session.flush()

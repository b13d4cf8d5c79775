"""The e-mail fallback (SPEC §8.1, §8.4): when webhooks fail or are missing, notices also go by
SMTP to the client's DPO, privacy and security contacts. Every attempt is logged like a
delivery."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from sqlmodel import Session

from app.clock import Clock
from app.events.models import EmailAttempt
from app.events.types import AttemptOutcome
from app.ids import new_id
from app.settings import Settings

SMTP_TIMEOUT = 15.0


def send(
    session: Session,
    clock: Clock,
    settings: Settings,
    *,
    subject: str,
    client_id: str | None,
    recipients: list[str],
    title: str,
    body: str,
) -> EmailAttempt:
    """Send one message and record the attempt in the caller's transaction."""
    now = clock.now()
    error = None
    if not settings.smtp_host:
        error = "the e-mail fallback is off (DPA_SMTP_HOST is not set)"
    elif not recipients:
        error = "the client has no current DPO, privacy or security contact"
    else:
        message = EmailMessage()
        message["From"] = settings.smtp_from
        message["To"] = ", ".join(recipients)
        message["Subject"] = title
        message.set_content(body)
        try:
            with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT) as smtp:
                refused = smtp.send_message(message)
            if refused:
                error = f"refused recipients: {sorted(refused)}"
        except (OSError, smtplib.SMTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
    attempt = EmailAttempt(
        id=new_id("eml"),
        subject=subject,
        client_id=client_id,
        recipients=recipients,
        title=title[:300],
        attempted_at=now,
        created_at=now,
        outcome=(AttemptOutcome.failure if error else AttemptOutcome.success).value,
        error=error,
    )
    session.add(attempt)
    session.flush()
    return attempt

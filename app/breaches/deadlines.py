"""The 72-hour arithmetic of seed §2.6 and GDPR Art. 33, in one place."""

from __future__ import annotations

from datetime import datetime, timedelta

NOTIFY_WINDOW = timedelta(hours=72)


def notify_deadline(aware_at: datetime) -> datetime:
    """Seed §2.6: notified at the latest within 72 hours of becoming aware."""
    return aware_at + NOTIFY_WINDOW


def event_deadline(occurred_at: datetime | None) -> datetime | None:
    """Seed §2.6 words it "within 72 hours following the event": when the moment of the breach
    is known, the contract's own deadline runs from it (the timer stays on aware_at, Art. 33)."""
    return occurred_at + NOTIFY_WINDOW if occurred_at is not None else None


def controller_deadline(notified_at: datetime) -> datetime:
    """The client's own 72 hours towards its supervisory authority (Art. 33(1)), for its
    information: they run from when it was told."""
    return notified_at + NOTIFY_WINDOW


def reminder_times(aware_at: datetime, hours: list[int], now: datetime) -> list[datetime]:
    """Reminders at these hours after aware_at; those already past when the breach is
    recorded are not sent (the notice itself has just gone)."""
    return [
        aware_at + timedelta(hours=h) for h in sorted(hours) if aware_at + timedelta(hours=h) > now
    ]


def seconds_left(deadline: datetime, now: datetime) -> int:
    """Whole seconds until the deadline; negative once it has passed."""
    return int((deadline - now).total_seconds() // 1)

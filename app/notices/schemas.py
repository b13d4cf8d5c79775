from __future__ import annotations

from enum import StrEnum


class NotifiedVia(StrEnum):
    """What proved a notice reached the client (SPEC §8.4)."""

    webhook = "webhook"  # a 2xx from one of its endpoints
    email = "email"  # its contacts' mail server accepted the e-mail
    acknowledgement = "acknowledgement"  # the client's own answer

"""Where a sub-processor stands for one client (SPEC §6), from recorded facts only: the list
annexed at signature, a change notice that reached the client and was not objected to (or was
approved), and the client's consent where the transfer guard asks for it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from app.auth.principal import Principal
from app.clients.models import Client
from app.clock import Clock
from app.errors import Conflict, NotFound, RuleViolation
from app.ids import new_id
from app.instructions import service as instructions_service
from app.subprocessors import service, transfers
from app.subprocessors.models import (
    ChangeNotice,
    ChangeRecipient,
    InitialAcceptance,
    SubProcessor,
    TransferConsent,
)
from app.subprocessors.schemas import (
    Authorisation,
    ChangeKind,
    ClientSubProcessor,
    SubProcessorStatus,
)
from app.workdays import within_deadline


def give_consent(
    session: Session,
    clock: Clock,
    principal: Principal,
    client: Client,
    sub: SubProcessor,
    document_ref: str | None,
) -> ClientSubProcessor:
    """Seed §2.9: the client consents to a transfer the guard asks consent for. Answers where
    the sub-processor now stands for the client."""
    if client.id not in sub.client_ids:
        raise NotFound("sub-processor", sub.id)
    existing = _consent(session, sub.id, client.id)
    if existing is not None:
        raise Conflict(f"Consent already recorded at {existing.created_at.isoformat()}.")
    consent = TransferConsent(
        id=new_id("tcs"),
        subprocessor_id=sub.id,
        client_id=client.id,
        document_ref=document_ref,
        given_by=principal.key_id,
        created_at=clock.now(),
    )
    session.add(consent)
    session.flush()
    return standing_view(session, clock, principal, client, sub)


def _consent(session: Session, sub_id: str, client_id: str) -> TransferConsent | None:
    return session.exec(
        select(TransferConsent).where(
            TransferConsent.subprocessor_id == sub_id, TransferConsent.client_id == client_id
        )
    ).first()


def _latest_recipient(session: Session, sub_id: str, client_id: str) -> ChangeRecipient | None:
    rows = session.exec(
        select(ChangeRecipient, ChangeNotice)
        .join(ChangeNotice, col(ChangeNotice.id) == col(ChangeRecipient.notice_id))
        .where(ChangeRecipient.client_id == client_id)
        .order_by(col(ChangeNotice.created_at).desc())
    ).all()
    for recipient, notice in rows:
        if sub_id in notice.subprocessor_ids and notice.kind != ChangeKind.removal.value:
            return recipient
    return None


@dataclass(frozen=True)
class Standing:
    """Where a sub-processor stands for one client, and why."""

    state: Authorisation
    reason: str
    recipient: ChangeRecipient | None
    consent: TransferConsent | None
    initial: InitialAcceptance | None


def _initial(session: Session, sub_id: str, client_id: str) -> InitialAcceptance | None:
    return session.exec(
        select(InitialAcceptance).where(
            InitialAcceptance.subprocessor_id == sub_id, InitialAcceptance.client_id == client_id
        )
    ).first()


def authorisation(session: Session, clock: Clock, sub: SubProcessor, client: Client) -> Standing:
    """Where a sub-processor stands for one client (SPEC §6), from recorded facts only: the list
    annexed at signature, or a change notice that reached the client and was not objected to in
    its window (`general`) or was approved (`specific`); plus consent where the transfer guard
    asks for it, and never against the client's current instructions. Being active, or being
    on the sub-processor's client list, authorises nothing by itself (GDPR Art. 28(2))."""
    consent = _consent(session, sub.id, client.id)
    recipient = _latest_recipient(session, sub.id, client.id)
    initial = _initial(session, sub.id, client.id)

    def found(state: Authorisation, reason: str) -> Standing:
        return Standing(state, reason, recipient, consent, initial)

    if sub.status == SubProcessorStatus.retired.value:
        return found(Authorisation.retired, "SCR no longer uses this sub-processor.")
    if recipient is not None and recipient.response == "objected":
        return found(Authorisation.objected, "The client objected to the change notice.")
    outside = [
        c for c, s in service.assessment(sub).countries.items() if s != transfers.Standing.eea
    ]
    forbidding = instructions_service.transfers_forbidden(session, client.id)
    if outside and forbidding is not None:
        return found(
            Authorisation.blocked_by_instructions,
            f"It processes data in {', '.join(outside)}, outside the EEA, and the client's "
            f"current instructions (version {forbidding}) do not allow third-country "
            "transfers (seed §2.2, §2.9).",
        )
    if service.assessment(sub).needs_safeguards and consent is None:
        return found(
            Authorisation.consent_required,
            f"It processes data in {', '.join(service.assessment(sub).needs_safeguards)} under "
            f"{sub.transfer_mechanism}: the client's explicit consent is needed (seed §2.9).",
        )
    if initial is not None:
        return found(
            Authorisation.authorised,
            f"Listed in the client's agreement at signature ({initial.contract_ref}).",
        )
    if recipient is None:
        return found(
            Authorisation.not_notified,
            "Not on the list annexed to the client's agreement, and no change notice about it "
            "has been sent to the client.",
        )
    if recipient.requires_approval:
        if recipient.response == "approved":
            return found(Authorisation.authorised, "The client approved the change notice.")
        return found(
            Authorisation.pending_approval,
            "The client must approve the change notice (specific authorisation, or a transfer "
            "that needs its consent).",
        )
    if recipient.response == "approved":
        return found(Authorisation.authorised, "The client approved the change notice.")
    if recipient.objection_deadline is None:
        # Never reached the client: its window has not even started (SPEC §8.4).
        return found(
            Authorisation.notice_pending, "The change notice has not reached the client yet."
        )
    if within_deadline(clock.now(), recipient.objection_deadline):
        return found(
            Authorisation.objection_window_open,
            f"The client may object until {recipient.objection_deadline.isoformat()}.",
        )
    return found(
        Authorisation.authorised,
        "The change notice reached the client and its objection window closed without an "
        "objection (general authorisation).",
    )


def _told_about(session: Session, client_id: str) -> set[str]:
    """Sub-processors named in a change notice that reached this client."""
    notices_reached = session.exec(
        select(ChangeNotice.subprocessor_ids)
        .join(ChangeRecipient, col(ChangeNotice.id) == col(ChangeRecipient.notice_id))
        .where(
            ChangeRecipient.client_id == client_id,
            col(ChangeRecipient.notified_at).is_not(None),
        )
    ).all()
    return {sub_id for ids in notices_reached for sub_id in ids}


def client_view(
    session: Session, clock: Clock, principal: Principal, client: Client
) -> list[ClientSubProcessor]:
    """Every sub-processor that serves the client, or that a change notice told it about
    (even while only proposed, before the client is on its list)."""
    told = _told_about(session, client.id)
    statement = select(SubProcessor).where(
        service.serves(client.id) | col(SubProcessor.id).in_(told)
        if told
        else service.serves(client.id)
    )
    subs = session.exec(statement).all()
    found = []
    for sub in sorted(subs, key=lambda s: s.name):
        standing = authorisation(session, clock, sub, client)
        base = service.view(sub, principal).model_dump()
        found.append(
            ClientSubProcessor(
                **{**base, "client_ids": [client.id]},
                authorisation=standing.state,
                authorisation_reason=standing.reason,
                objection_deadline=(
                    standing.recipient.objection_deadline if standing.recipient else None
                ),
                consent_given_at=standing.consent.created_at if standing.consent else None,
                initial_acceptance_ref=standing.initial.contract_ref if standing.initial else None,
            )
        )
    return found


def accept_initially(
    session: Session,
    clock: Clock,
    principal: Principal,
    client: Client,
    sub: SubProcessor,
    contract_ref: str,
) -> ClientSubProcessor:
    """Record that the sub-processor is on the list annexed to the client's agreement at
    signature (staff): the one path to authorisation that needs no change notice."""
    if client.id not in sub.client_ids:
        raise RuleViolation(
            "initial-acceptance-client",
            f"{sub.name} does not list client {client.id} in its client_ids; add the client "
            "first (that alone authorises nothing).",
        )
    existing = _initial(session, sub.id, client.id)
    if existing is not None:
        raise Conflict(f"Initial acceptance already recorded ({existing.contract_ref}).")
    accepted = InitialAcceptance(
        id=new_id("ini"),
        subprocessor_id=sub.id,
        client_id=client.id,
        contract_ref=contract_ref,
        recorded_by=principal.key_id,
        created_at=clock.now(),
    )
    session.add(accepted)
    session.flush()
    return standing_view(session, clock, principal, client, sub)


def standing_view(
    session: Session, clock: Clock, principal: Principal, client: Client, sub: SubProcessor
) -> ClientSubProcessor:
    return next(v for v in client_view(session, clock, principal, client) if v.id == sub.id)

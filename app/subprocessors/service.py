"""Sub-processor rules (seed §2.8-2.9): clients are told of every intended addition or
replacement and may object; transfers without adequate protection need safeguards and each
client's consent."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, cast
from sqlmodel import Session, col, select

from app.auth.principal import Principal, acting_for, load, scoped
from app.clients import service as clients_service
from app.clients.models import Client
from app.clock import Clock
from app.errors import Conflict, NotFound, RuleViolation, field_errors
from app.events import service as events
from app.events import timers
from app.events.timers import TimerKind
from app.ids import new_id
from app.instructions import service as instructions_service
from app.notices import service as notices
from app.notices.models import Notice
from app.pagination import PageParams, paginate
from app.settings import Settings
from app.subprocessors import transfers
from app.subprocessors.models import (
    ChangeNotice,
    ChangeRecipient,
    InitialAcceptance,
    SubProcessor,
    TransferConsent,
)
from app.subprocessors.schemas import (
    Authorisation,
    ChangeCreate,
    ChangeKind,
    ChangePublic,
    ClientSubProcessor,
    CountryStanding,
    Mechanism,
    RecipientPublic,
    SubProcessorCreate,
    SubProcessorPublic,
    SubProcessorStatus,
    SubProcessorUpdate,
)
from app.workdays import local_date, objection_deadline, within_deadline

DEADLINE_SOON = TimerKind.change_deadline_soon
NOTICE_KIND = "subprocessor_change"
SOON_BEFORE = timedelta(days=3)
SAFEGUARDS = {Mechanism.scc.value, Mechanism.bcr.value}


def _assessment(sub: SubProcessor) -> transfers.Assessment:
    return transfers.assess(
        sub.processing_countries,
        dpf_certified=sub.dpf_certified,
        commercial_organisation=sub.commercial_organisation,
    )


def _check_clients(session: Session, client_ids: list[str], field: str) -> list[str]:
    unknown = clients_service.unknown_clients(session, client_ids)
    if unknown:
        raise RuleViolation(
            "unknown-client",
            f"No client with id {unknown[0]!r}.",
            errors=field_errors(field, f"unknown client {unknown[0]}"),
        )
    return list(dict.fromkeys(client_ids))


def _guard(sub: SubProcessor) -> None:
    """Seed §2.9, Art. 46: no transfer outside adequate protection without SCC or BCR."""
    needing = _assessment(sub).needs_safeguards
    if needing and sub.transfer_mechanism not in SAFEGUARDS:
        raise RuleViolation(
            "transfer-guard-safeguards",
            f"{sub.name} processes data in {', '.join(needing)}, outside the EEA and without an "
            "adequacy decision that covers it: it cannot become active without appropriate "
            "safeguards (transfer_mechanism scc or bcr), and each client's consent.",
            countries_needing_safeguards=needing,
        )


def _bound_by_agreement(sub: SubProcessor) -> None:
    """GDPR Art. 28(4): a sub-processor is bound by a written contract with the same data
    protection obligations before it processes anything."""
    missing = [
        name for name in ("agreement_ref", "agreement_signed_on") if getattr(sub, name) is None
    ]
    if missing:
        raise RuleViolation(
            "subprocessor-written-agreement",
            f"{sub.name} cannot be active without its written sub-processing agreement (GDPR "
            f"Art. 28(4)): record {' and '.join(missing)} first.",
            errors=[e for name in missing for e in field_errors(f"body.{name}", "required")],
        )


def create_subprocessor(session: Session, clock: Clock, data: SubProcessorCreate) -> SubProcessor:
    now = clock.now()
    sub = SubProcessor(
        id=new_id("spr"),
        status=SubProcessorStatus.proposed.value,
        created_at=now,
        updated_at=now,
        **data.model_dump(mode="json", exclude={"client_ids", "agreement_signed_on"}),
        agreement_signed_on=data.agreement_signed_on,
        client_ids=_check_clients(session, data.client_ids, "body.client_ids"),
    )
    session.add(sub)
    session.flush()
    return sub


def update_subprocessor(
    session: Session, clock: Clock, sub: SubProcessor, data: SubProcessorUpdate
) -> SubProcessor:
    changes = data.model_dump(mode="json", exclude_unset=True)
    if changes.get("client_ids") is not None:
        changes["client_ids"] = _check_clients(session, changes["client_ids"], "body.client_ids")
    for name, value in changes.items():
        if value is None and name not in ("agreement_ref", "agreement_signed_on"):
            raise RuleViolation("field-required", f"{name} cannot be null.")
        setattr(sub, name, value)
    if isinstance(sub.agreement_signed_on, str):
        sub.agreement_signed_on = date.fromisoformat(sub.agreement_signed_on)
    if sub.status == SubProcessorStatus.active.value:
        _bound_by_agreement(sub)
        _guard(sub)
    sub.updated_at = clock.now()
    session.add(sub)
    session.flush()
    return sub


def set_status(
    session: Session, clock: Clock, sub: SubProcessor, status: SubProcessorStatus
) -> SubProcessor:
    if status is SubProcessorStatus.active:
        _bound_by_agreement(sub)
        _guard(sub)
    if sub.status == SubProcessorStatus.retired.value:
        raise Conflict(f"Sub-processor {sub.id} is retired.")
    sub.status = status.value
    sub.updated_at = clock.now()
    session.add(sub)
    session.flush()
    return sub


def get_subprocessor(session: Session, principal: Principal, sub_id: str) -> SubProcessor:
    return load(session, principal, SubProcessor, sub_id, _serves, "sub-processor")


def _serves(client_id: str) -> ColumnElement[bool]:
    """The sub-processor serves this client. Membership in the JSON list, the same SQL on both
    backends: the list's text holds the quoted id (LIKE wildcards escaped)."""
    return cast(col(SubProcessor.client_ids), String).contains(
        json.dumps(client_id), autoescape=True
    )


def list_subprocessors(session: Session, principal: Principal, params: PageParams):
    statement = scoped(select(SubProcessor), principal, _serves)
    return paginate(session, statement, SubProcessor, params)


def view(sub: SubProcessor, principal: Principal) -> SubProcessorPublic:
    return SubProcessorPublic(
        **sub.model_dump(exclude={"client_ids"}),
        client_ids=sub.client_ids if principal.is_staff else [principal.client_id],
        transfers=[
            CountryStanding(country=country, standing=standing.value)
            for country, standing in _assessment(sub).countries.items()
        ],
        adequacy_list_checked_on=transfers.checked_on(),
    )


# --- consent and the client's view --------------------------------------------------------


def give_consent(
    session: Session,
    clock: Clock,
    principal: Principal,
    client: Client,
    sub: SubProcessor,
    document_ref: str | None,
) -> TransferConsent:
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
    return consent


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
    outside = [c for c, s in _assessment(sub).countries.items() if s != transfers.Standing.eea]
    forbidding = instructions_service.transfers_forbidden(session, client.id)
    if outside and forbidding is not None:
        return found(
            Authorisation.blocked_by_instructions,
            f"It processes data in {', '.join(outside)}, outside the EEA, and the client's "
            f"current instructions (version {forbidding}) do not allow third-country "
            "transfers (seed §2.2, §2.9).",
        )
    if _assessment(sub).needs_safeguards and consent is None:
        return found(
            Authorisation.consent_required,
            f"It processes data in {', '.join(_assessment(sub).needs_safeguards)} under "
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
        _serves(client.id) | col(SubProcessor.id).in_(told) if told else _serves(client.id)
    )
    subs = session.exec(statement).all()
    found = []
    for sub in sorted(subs, key=lambda s: s.name):
        standing = authorisation(session, clock, sub, client)
        base = view(sub, principal).model_dump()
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
) -> InitialAcceptance:
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
    return accepted


# --- change notices ---------------------------------------------------------------------------


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
        client_ids = _check_clients(session, data.client_ids, "body.client_ids")
    if not client_ids:
        raise RuleViolation(
            "change-notice-recipients",
            "This change notice would reach no client: name client_ids, or list the clients on "
            "the sub-processors whose data they would touch.",
            errors=field_errors("body.client_ids", "no client"),
        )
    now = clock.now()
    transfer_consent = any(_assessment(sub).needs_safeguards for sub in subs)
    recipients = []
    windows: dict[str, int] = {}
    last_day = None
    for client_id in client_ids:
        client = session.get(Client, client_id)
        assert client is not None
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
        session.add(recipient)
        session.flush()
        notices.send(
            session,
            clock,
            kind=NOTICE_KIND,
            subject=recipient.id,
            client_id=recipient.client_id,
            event_type="subprocessor.change_notice",
            event_subject=notice.id,
            data=_message(
                notice,
                subs,
                recipient,
                # The deadline itself is known once the notice arrives (counted from then).
                objection_window_days=windows[recipient.client_id],
            ),
            escalate_after=timedelta(hours=settings.notice_escalation_hours),
        )
    return notice


def _deadline_for(client: Client, arrived_at: datetime) -> datetime:
    return objection_deadline(
        arrived_at, client.objection_window_days, client.calendar, client.timezone
    )


@notices.on_notified(NOTICE_KIND)
def on_notified(session: Session, clock: Clock, sent: Notice) -> None:
    """The change notice reached the client: its objection window starts now (SPEC §6)."""
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


def _message(
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


def get_change(session: Session, principal: Principal, change_id: str) -> ChangeNotice:
    return load(session, principal, ChangeNotice, change_id, _told, "sub-processor change")


def _told(client_id: str) -> ColumnElement[bool]:
    """A client's own change notices: those it is a recipient of."""
    told = select(ChangeRecipient.notice_id).where(ChangeRecipient.client_id == client_id)
    return col(ChangeNotice.id).in_(told)


def list_changes(session: Session, principal: Principal, params: PageParams):
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
    if recipient.response is not None:
        raise Conflict(f"Already {recipient.response} at {recipient.responded_at}.")
    if recipient.notified_at is None:
        # The client's own answer proves the notice reached it: its window starts now.
        notices.acknowledge(
            session, clock, subject=recipient.id, client_id=recipient.client_id, by=by
        )
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
    subs = [s for s in (session.get(SubProcessor, i) for i in notice.subprocessor_ids) if s]
    event = "subprocessor.objection" if response == "objected" else "subprocessor.approval"
    extra: dict[str, Any] = {"reason": reason}
    if contact_email is not None:
        extra["answered_by_contact"] = contact_email
    events.emit(
        session,
        clock,
        event,
        notice.id,
        _message(notice, subs, recipient, **extra),
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


def on_deadline_soon(session: Session, clock: Clock, recipient_id: str) -> None:
    recipient = session.get(ChangeRecipient, recipient_id)
    if recipient is None or recipient.response is not None:
        return
    notice = session.get(ChangeNotice, recipient.notice_id)
    if notice is None:
        return
    subs = [s for s in (session.get(SubProcessor, i) for i in notice.subprocessor_ids) if s]
    events.emit(
        session,
        clock,
        "subprocessor.objection_deadline_soon",
        notice.id,
        _message(notice, subs, recipient),
        client_id=recipient.client_id,
    )

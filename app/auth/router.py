from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

from app.auth import service
from app.auth.dependencies import PrincipalDep
from app.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic, Me, Role
from app.clients.dependencies import StaffClientDep, VisibleClientDep
from app.context import ClockDep, ContextDep
from app.db import SessionDep
from app.errors import problem_responses
from app.pagination import Page, PageDep, page_of
from app.routing import api_router

router = api_router("/v1", "api keys")

KeyIdPath = Annotated[str, Path(max_length=40, description="An API key id (`key_…`).")]


@router.get("/me", summary="Who am I: the calling key's id, role and client", response_model=Me)
def whoami(principal: PrincipalDep) -> Any:
    return Me(key_id=principal.key_id, role=principal.role, client_id=principal.client_id)


@router.post(
    "/clients/{client_id}/api-keys",
    status_code=201,
    summary="Issue an API key for a client (staff)",
    response_model=ApiKeyCreated,
    responses=problem_responses(403, 404),
)
def create_client_key(
    data: ApiKeyCreate,
    client: StaffClientDep,
    principal: PrincipalDep,
    session: SessionDep,
    context: ContextDep,
) -> Any:
    """The answer's `key` is shown this once; only a keyed hash is kept."""
    key, plain = service.create_key(
        session,
        context.clock,
        context.settings.key_hash_secret,
        role=Role.client,
        client_id=client.id,
        name=data.name,
        created_by=principal.key_id,
    )
    return ApiKeyCreated(**ApiKeyPublic.model_validate(key).model_dump(), key=plain)


@router.get(
    "/clients/{client_id}/api-keys",
    summary="List a client's API keys (never their secrets)",
    response_model=Page[ApiKeyPublic],
    responses=problem_responses(404),
)
def list_client_keys(client: VisibleClientDep, session: SessionDep, params: PageDep) -> Any:
    return page_of(ApiKeyPublic, *service.list_client_keys(session, client.id, params))


@router.delete(
    "/api-keys/{key_id}",
    summary="Revoke an API key",
    response_model=ApiKeyPublic,
    responses=problem_responses(404, 409),
)
def revoke_key(
    key_id: KeyIdPath, principal: PrincipalDep, session: SessionDep, clock: ClockDep
) -> Any:
    """Takes effect on the very next request. Staff revoke any key; a client key revokes its
    own client's keys."""
    return service.revoke_key(session, clock, principal, key_id)

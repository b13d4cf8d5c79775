"""Load-or-404 for sub-processors and change notices: a client key sees only those that serve
it, and the change notices it was sent."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from app.auth.dependencies import PrincipalDep
from app.db import SessionDep
from app.subprocessors import changes, service
from app.subprocessors.models import ChangeNotice, SubProcessor

SubIdPath = Annotated[str, Path(max_length=40, description="A sub-processor id (`spr_…`).")]
ChangeIdPath = Annotated[str, Path(max_length=40, description="A change notice id (`spc_…`).")]


def visible_sub(
    subprocessor_id: SubIdPath, principal: PrincipalDep, session: SessionDep
) -> SubProcessor:
    return service.get_subprocessor(session, principal, subprocessor_id)


def visible_change(
    change_id: ChangeIdPath, principal: PrincipalDep, session: SessionDep
) -> ChangeNotice:
    return changes.get_change(session, principal, change_id)


SubDep = Annotated[SubProcessor, Depends(visible_sub)]
ChangeDep = Annotated[ChangeNotice, Depends(visible_change)]

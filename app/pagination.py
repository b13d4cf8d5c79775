"""The one pagination helper: newest first, keyset cursor on (created_at, id), date filters."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeAlias, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import and_, or_
from sqlmodel import Session
from sqlmodel.sql.expression import SelectOfScalar

from app.bounds import EARLIEST_YEAR, LATEST_YEAR, Moment
from app.errors import RuleViolation, field_errors

T = TypeVar("T")
MAX_LIMIT = 200
# One page of rows, and the cursor for the next (None on the last page).
Rows: TypeAlias = tuple[list[T], str | None]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next (older) page; null on the last page."
    )


@dataclass(frozen=True)
class PageParams:
    limit: int
    cursor: str | None
    created_after: datetime | None
    created_before: datetime | None


async def page_params(
    limit: int = Query(50, ge=1, le=MAX_LIMIT, description="Items per page."),
    cursor: str | None = Query(None, max_length=200, description="`next_cursor` of a page."),
    # Annotated, so that FastAPI keeps Moment's range check (a `= Query()` default drops it).
    created_after: Annotated[
        Moment | None,
        Query(description="Only items created at or after this instant (RFC 3339 with offset)."),
    ] = None,
    created_before: Annotated[
        Moment | None,
        Query(description="Only items created before this instant (RFC 3339 with offset)."),
    ] = None,
) -> PageParams:
    return PageParams(limit, cursor, created_after, created_before)


PageDep = Annotated[PageParams, Depends(page_params)]


def _encode(created_at: datetime, identifier: str) -> str:
    raw = json.dumps([created_at.isoformat(), identifier]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, identifier = json.loads(raw)
        instant = datetime.fromisoformat(created_at)
        if instant.tzinfo is None or not isinstance(identifier, str):
            raise ValueError
        if not EARLIEST_YEAR <= instant.year <= LATEST_YEAR:
            raise ValueError  # a forged cursor at the calendar's edge would overflow in UTC
        return instant, identifier
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise unknown_cursor() from exc


def unknown_cursor() -> RuleViolation:
    """The answer to a `cursor` this service did not give out (also for other cursor forms)."""
    return RuleViolation(
        "pagination-cursor",
        "`cursor` is not a cursor this service gave out; pass `next_cursor` from a page.",
        errors=field_errors("query.cursor", "unknown cursor"),
    )


def paginate(
    session: Session, statement: SelectOfScalar[T], model: Any, params: PageParams
) -> Rows[T]:
    """Rows of `statement` (a select of `model`, which has `created_at` and `id`), newest first."""
    created_at, identifier = model.created_at, model.id
    if params.created_after is not None:
        statement = statement.where(created_at >= params.created_after)
    if params.created_before is not None:
        statement = statement.where(created_at < params.created_before)
    if params.cursor is not None:
        after_instant, after_id = _decode(params.cursor)
        statement = statement.where(
            or_(
                created_at < after_instant, and_(created_at == after_instant, identifier < after_id)
            )
        )
    rows = list(
        session.exec(
            statement.order_by(created_at.desc(), identifier.desc()).limit(params.limit + 1)
        )
    )
    next_cursor = None
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        last: Any = rows[-1]  # a row of `model`: it has created_at and id
        next_cursor = _encode(last.created_at, last.id)
    return rows, next_cursor


def page_of(schema: type[BaseModel], rows: list[Any], next_cursor: str | None) -> dict[str, Any]:
    """A page of `schema` views of `rows`, ready to be returned as `Page[schema]`."""
    return {"items": [schema.model_validate(row) for row in rows], "next_cursor": next_cursor}

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response

from app.auth.dependencies import PrincipalDep, StaffDep
from app.clients.dependencies import VisibleClientDep
from app.context import ClockDep
from app.db import SessionDep
from app.errors import problem_responses
from app.record import service
from app.routing import api_router

router = api_router("/v1", "evidence")

Format = Annotated[
    Literal["json", "csv"] | None,
    Query(
        alias="format",
        description="`csv` for the same record as rows; or send `Accept: text/csv`.",
    ),
]
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "controller_id,controller,section,item,value\r\n",
            }
        },
        "description": "JSON, or CSV rows (controller_id, controller, section, item, value).",
    }
}


def _answer(request: Request, record: dict[str, Any], fmt: str | None, name: str) -> Response:
    wants_csv = fmt == "csv" or (
        fmt is None and "text/csv" in request.headers.get("accept", "").lower()
    )
    if wants_csv:
        return Response(
            service.as_csv(record),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return JSONResponse(jsonable_encoder(record))


@router.get(
    "/record",
    summary="The record of processing activities, Art. 30(2) (staff)",
    responses={**CSV_RESPONSE, **problem_responses(403)},
)
def whole_record(
    request: Request, _staff: StaffDep, session: SessionDep, clock: ClockDep, fmt: Format = None
) -> Any:
    """The register SCR Group keeps as a processor, one entry per controller, built from live
    data now: the processor's and each controller's name and contact details and DPO; the
    categories of processing carried out for each (from its instructions in force); transfers to
    third countries with the country, the sub-processor and the safeguard; the general
    description of security measures. `missing` lists what the data cannot fill."""
    record = service.build(session, clock, _staff, service.all_clients(session))
    return _answer(request, record, fmt, "record-of-processing")


@router.get(
    "/clients/{client_id}/record",
    summary="One controller's part of the record of processing (Art. 30(2))",
    responses={**CSV_RESPONSE, **problem_responses(404)},
)
def client_record(
    request: Request,
    client: VisibleClientDep,
    principal: PrincipalDep,
    session: SessionDep,
    clock: ClockDep,
    fmt: Format = None,
) -> Any:
    """The same record, for this client only (a client key reads its own)."""
    record = service.build(session, clock, principal, [client])
    return _answer(request, record, fmt, f"record-of-processing-{client.id}")

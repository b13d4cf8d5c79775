"""Bounded request bodies (SPEC §13): `DPA_MAX_BODY_BYTES`. A body announced larger is refused at
once, before it is read or anyone is authenticated; a body that grows past the limit while it
streams is cut off there. Either way a 413 problem, and the process never holds more than the
limit of one request's body."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import DomainError, problem_response


class BodyTooLarge(DomainError):
    status = 413
    slug = "body-too-large"
    title = "Request body too large"


def _too_large(limit: int) -> BodyTooLarge:
    return BodyTooLarge(
        f"The request body is larger than this service accepts ({limit} bytes, "
        "DPA_MAX_BODY_BYTES).",
        max_body_bytes=limit,
    )


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.limit = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        announced = dict(scope.get("headers") or []).get(b"content-length")
        if announced is not None and (not announced.isdigit() or int(announced) > self.limit):
            exc = _too_large(self.limit)
            response = problem_response(
                exc.status, exc.slug, exc.detail, Request(scope), title=exc.title, **exc.extra
            )
            # The rest of the body is not wanted: close rather than drain it.
            response.headers["Connection"] = "close"
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _too_large(self.limit)  # the app's handler answers 413
            return message

        await self.app(scope, counted, send)

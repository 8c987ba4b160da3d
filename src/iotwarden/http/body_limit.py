"""Request body limits, answered as problem documents.

The limit follows the declared media type: only audio uploads may be large, and routes
refuse media types they do not take (see the policy table), so a JSON route never reads
more than the JSON limit.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from iotwarden.http.problems import PROBLEM_JSON, TYPE_PREFIX, PayloadTooLarge


class BodyLimitMiddleware:
    def __init__(
        self, app: ASGIApp, *, default: int, large: int, large_types: frozenset[str]
    ) -> None:
        self.app = app
        self.default = default
        self.large = large
        self.large_types = large_types

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        content_type, declared = _content_headers(scope)
        media_type = content_type.split(";")[0].strip().lower()
        limit = self.large if media_type in self.large_types else self.default
        if declared is None:
            await self.app(scope, _limited(receive, limit), send)
        elif not declared.isdigit() or int(declared) > limit:
            await _send_too_large(send, limit)
        else:
            # The server already stops a body at its declared length; no need to count.
            await self.app(scope, receive, send)


def _content_headers(scope: Scope) -> tuple[str, str | None]:
    # One pass over the raw pairs: this runs before every request.
    content_type, length = "", None
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value.decode("latin-1")
        elif name == b"content-length":
            length = value.decode("latin-1")
    return content_type, length


def _limited(receive: Receive, limit: int) -> Receive:
    received = 0

    async def receive_within_limit() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                # An HTTPException is the one error FastAPI re-raises from body parsing.
                raise HTTPException(413)
        return message

    return receive_within_limit


async def _send_too_large(send: Send, limit: int) -> None:
    body = json.dumps(
        {
            "type": TYPE_PREFIX + PayloadTooLarge.slug,
            "title": PayloadTooLarge.title,
            "status": 413,
            "detail": f"the body may be at most {limit} bytes",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

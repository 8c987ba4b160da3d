"""``POST /oauth/token`` (RFC 6749): refresh rotation for users, client credentials for devices.

Errors are problem documents that also carry the RFC 6749 ``error`` code.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Header, Response

from iotwarden.accounts import sessions
from iotwarden.accounts.schemas import TokenOut
from iotwarden.auth.principals import DevicePrincipal
from iotwarden.auth.route import GuardedRoute
from iotwarden.context import AppCtx, DbSession
from iotwarden.devices.credentials import secret_matches
from iotwarden.devices.models import Device
from iotwarden.http.problems import ProblemError

router = APIRouter(route_class=GuardedRoute, tags=["oauth"])
FormStr = Annotated[str | None, Form(max_length=512)]


class OAuthError(ProblemError):
    status, slug, title = 400, "oauth-error", "Token request refused"

    def __init__(self, error: str, **kw: Any) -> None:
        super().__init__(error.replace("_", " "), error=error, **kw)


class InvalidClientError(OAuthError):
    """RFC 6749 5.2: a failed client authentication is a 401."""

    status = 401

    def __init__(self) -> None:
        super().__init__("invalid_client", headers={"WWW-Authenticate": 'Basic realm="iotwarden"'})


@router.post("/oauth/token", response_model=TokenOut, response_model_exclude_none=True)
async def token(
    db: DbSession,
    ctx: AppCtx,
    response: Response,
    grant_type: Annotated[str, Form(max_length=64)],
    refresh_token: FormStr = None,
    client_id: FormStr = None,
    client_secret: FormStr = None,
    authorization: Annotated[str | None, Header(max_length=2048)] = None,
) -> TokenOut:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    if grant_type == "refresh_token":
        return await _refresh(db, ctx, refresh_token)
    if grant_type == "client_credentials":
        client_id, client_secret = _client_auth(client_id, client_secret, authorization)
        return await _device_token(db, ctx, client_id, client_secret)
    raise OAuthError("unsupported_grant_type")


async def _refresh(db: DbSession, ctx: AppCtx, presented: str | None) -> TokenOut:
    if not presented:
        raise OAuthError("invalid_request")
    try:
        pair = await sessions.rotate(db, ctx, presented)
    except sessions.InvalidGrantError:
        raise OAuthError("invalid_grant") from None
    return TokenOut(
        access_token=pair.access_token, expires_in=pair.expires_in, refresh_token=pair.refresh_token
    )


def _client_auth(
    client_id: str | None, client_secret: str | None, authorization: str | None
) -> tuple[str, str]:
    if authorization and authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidClientError() from None
        client_id, _, client_secret = decoded.partition(":")
    if not client_id or not client_secret:
        raise InvalidClientError()
    return client_id, client_secret


async def _device_token(db: DbSession, ctx: AppCtx, client_id: str, secret: str) -> TokenOut:
    try:
        device = await db.get(Device, uuid.UUID(client_id))
    except ValueError:
        device = None
    valid = secret_matches(device.secret_hash if device else None, secret)
    if device is None or not valid or device.disabled_at is not None:
        raise InvalidClientError()
    principal = DevicePrincipal(device_id=device.id, credential_id=device.credential_id)
    issued = ctx.tokens.issue(principal, ctx.settings.device_token_ttl)
    return TokenOut(access_token=issued.token, expires_in=issued.expires_in)

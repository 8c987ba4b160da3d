"""Route policies and their enforcement: who may call a route, holding what, on which object.

A route without a policy cannot be built (see ``GuardedRoute``): deny by default.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from fastapi import Request

from iotwarden.auth import permissions
from iotwarden.auth.access import device_role
from iotwarden.auth.principals import (
    ANONYMOUS,
    DevicePrincipal,
    Principal,
    PrincipalKind,
    UserPrincipal,
)
from iotwarden.auth.revocation import is_revoked
from iotwarden.context import AppContext
from iotwarden.http.problems import Forbidden, NotFound, Unauthorized, UnsupportedMediaType


class Target(StrEnum):
    NONE = "none"  # nothing in the path names an object
    DEVICE = "device"  # {device_id}: owner or share role for users, only itself for devices
    OWN = "own"  # the service filters by the principal (sessions, download grants)


@dataclass(frozen=True, slots=True)
class Policy:
    principals: frozenset[PrincipalKind]
    permission: str | None
    target: Target = Target.NONE
    media_types: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class DeviceAccess:
    device_id: uuid.UUID
    role: str  # "owner", "operator", "viewer", or "self" for the device itself


async def authorize(request: Request, policy: Policy, ctx: AppContext) -> Principal:
    principal = await authenticate(request, ctx) if _needs_token(policy) else ANONYMOUS
    if principal.kind not in policy.principals:
        if principal is ANONYMOUS:
            raise Unauthorized()
        raise NotFound() if policy.target is Target.DEVICE else Forbidden()
    if policy.target is Target.DEVICE:
        request.state.access = await _device_access(request, policy, principal, ctx)
    elif not _holds(principal, policy.permission):
        raise Forbidden()
    check_media_type(request, policy)
    return principal


def _needs_token(policy: Policy) -> bool:
    return policy.principals != {PrincipalKind.ANONYMOUS}


async def authenticate(request: Request, ctx: AppContext) -> Principal:
    header = request.headers.get("authorization")
    if header is None:
        return ANONYMOUS
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("expected a Bearer token")
    principal = ctx.tokens.verify(token.strip())
    sid = principal.session_id if isinstance(principal, UserPrincipal) else principal.credential_id
    if await is_revoked(ctx.state, sid):
        raise Unauthorized("invalid token")
    return principal


def _holds(principal: Principal, permission: str | None) -> bool:
    if isinstance(principal, UserPrincipal):
        return permission in permissions.USER
    if isinstance(principal, DevicePrincipal):
        return permission in permissions.DEVICE
    return permission is None


async def _device_access(
    request: Request, policy: Policy, principal: Principal, ctx: AppContext
) -> DeviceAccess:
    try:
        device_id = uuid.UUID(str(request.path_params["device_id"]))
    except (KeyError, ValueError) as exc:
        raise NotFound() from exc
    if isinstance(principal, DevicePrincipal):
        if principal.device_id != device_id:
            raise NotFound()
        if policy.permission not in permissions.DEVICE:
            raise Forbidden()
        return DeviceAccess(device_id=device_id, role="self")
    if not isinstance(principal, UserPrincipal):
        raise NotFound()
    async with ctx.sessions() as session:
        role = await device_role(session, device_id, principal.user_id)
    if role is None:
        raise NotFound()
    if policy.permission not in permissions.ROLES[role]:
        raise Forbidden()
    return DeviceAccess(device_id=device_id, role=role)


def check_media_type(request: Request, policy: Policy) -> None:
    if not policy.media_types:
        return
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in policy.media_types:
        raise UnsupportedMediaType("expected " + " or ".join(sorted(policy.media_types)))

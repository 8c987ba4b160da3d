"""Typed dependencies for endpoints: the principal the route's policy already admitted.

All ``async def``: FastAPI runs plain ``def`` dependencies on a worker thread, per request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from iotwarden.auth.policy import DeviceAccess
from iotwarden.auth.principals import DevicePrincipal, UserPrincipal
from iotwarden.http.problems import Forbidden


async def _user(request: Request) -> UserPrincipal:
    principal = request.state.principal
    if not isinstance(principal, UserPrincipal):
        raise Forbidden()
    return principal


async def _device(request: Request) -> DevicePrincipal:
    principal = request.state.principal
    if not isinstance(principal, DevicePrincipal):
        raise Forbidden()
    return principal


def target_device(request: Request) -> DeviceAccess:
    """The device the route's policy admitted the caller to (a ``Target.DEVICE`` route)."""
    access: DeviceAccess = request.state.access
    return access


async def _access(request: Request) -> DeviceAccess:
    return target_device(request)


CurrentUser = Annotated[UserPrincipal, Depends(_user)]
CurrentDevice = Annotated[DevicePrincipal, Depends(_device)]
TargetDevice = Annotated[DeviceAccess, Depends(_access)]

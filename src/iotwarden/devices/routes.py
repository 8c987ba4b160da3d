"""Device routes. Who may call each, and with which role, is settled by the policy table
before a handler runs; handlers only load the device the policy already admitted."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from iotwarden.auth.deps import CurrentUser, TargetDevice
from iotwarden.auth.policy import DeviceAccess
from iotwarden.auth.route import GuardedRoute
from iotwarden.context import AppContext, AppCtx, DbSession
from iotwarden.devices import services
from iotwarden.devices.models import Device
from iotwarden.devices.schemas import (
    DeviceCreate,
    DeviceCreated,
    DeviceOut,
    DeviceUpdate,
    SecretOut,
    device_out,
)
from iotwarden.http.pagination import Page, Pagination
from iotwarden.http.problems import NotFound

router = APIRouter(route_class=GuardedRoute, tags=["devices"])
_DEV = "/api/v1/devices/{device_id}"


@router.post("/api/v1/devices", status_code=201, response_model=DeviceCreated)
async def register(body: DeviceCreate, principal: CurrentUser, db: DbSession) -> DeviceCreated:
    device, secret = await services.register(db, principal.user_id, body)
    # The only time the secret is ever shown; the security headers forbid caching it.
    return DeviceCreated(**device_out(device, "owner").model_dump(), secret=secret)


@router.get("/api/v1/devices", response_model=Page[DeviceOut])
async def list_devices(principal: CurrentUser, db: DbSession, page: Pagination) -> Page[DeviceOut]:
    items, cursor = await services.list_visible(db, principal.user_id, page)
    return Page(items=[device_out(device, role) for device, role in items], next_cursor=cursor)


@router.get(_DEV, response_model=DeviceOut)
async def get_device(device_id: uuid.UUID, access: TargetDevice, db: DbSession) -> DeviceOut:
    device = await db.get(Device, access.device_id)
    if device is None:
        raise NotFound()
    return device_out(device, access.role)


@router.patch(_DEV, response_model=DeviceOut)
async def update_device(
    device_id: uuid.UUID, body: DeviceUpdate, access: TargetDevice, db: DbSession
) -> DeviceOut:
    device = await _locked(db, access.device_id)
    await services.update(db, device, body)
    return device_out(device, access.role)


@router.delete(_DEV, status_code=204)
async def delete_device(
    device_id: uuid.UUID, access: TargetDevice, db: DbSession, ctx: AppCtx
) -> None:
    await services.remove(db, ctx, await _locked(db, access.device_id))


@router.post(_DEV + "/secret", response_model=SecretOut)
async def rotate_secret(
    device_id: uuid.UUID, access: TargetDevice, db: DbSession, ctx: AppCtx
) -> SecretOut:
    device = await _locked(db, access.device_id)
    return SecretOut(secret=await services.rotate_secret(db, ctx, device))


@router.post(_DEV + "/disable", response_model=DeviceOut)
async def disable_device(
    device_id: uuid.UUID, access: TargetDevice, db: DbSession, ctx: AppCtx
) -> DeviceOut:
    return await _set_disabled(access, db, ctx, disabled=True)


@router.post(_DEV + "/enable", response_model=DeviceOut)
async def enable_device(
    device_id: uuid.UUID, access: TargetDevice, db: DbSession, ctx: AppCtx
) -> DeviceOut:
    return await _set_disabled(access, db, ctx, disabled=False)


async def _set_disabled(
    access: DeviceAccess, db: AsyncSession, ctx: AppContext, *, disabled: bool
) -> DeviceOut:
    device = await _locked(db, access.device_id)
    await services.set_disabled(db, ctx, device, disabled=disabled)
    return device_out(device, access.role)


async def _locked(db: AsyncSession, device_id: uuid.UUID) -> Device:
    # The policy saw the device a moment ago; it may have been deleted since.
    device = await services.lock(db, device_id)
    if device is None:
        raise NotFound()
    return device

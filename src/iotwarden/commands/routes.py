"""Command routes: operators and owners queue and list; the device fetches and acknowledges."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from iotwarden.auth.deps import CurrentUser, TargetDevice
from iotwarden.auth.route import GuardedRoute
from iotwarden.commands import services
from iotwarden.commands.models import CommandStatus
from iotwarden.commands.schemas import (
    CommandAck,
    CommandCreate,
    CommandOut,
    PendingCommands,
    command_out,
)
from iotwarden.context import DbSession
from iotwarden.db.base import utcnow
from iotwarden.http.pagination import Page, Pagination
from iotwarden.http.problems import Conflict, NotFound

router = APIRouter(route_class=GuardedRoute, tags=["commands"])
_PATH = "/api/v1/devices/{device_id}/commands"


@router.post(_PATH, status_code=201, response_model=CommandOut)
async def queue_command(
    device_id: uuid.UUID,
    body: CommandCreate,
    access: TargetDevice,
    principal: CurrentUser,
    db: DbSession,
) -> CommandOut:
    now = utcnow()
    command = await services.create(db, access.device_id, principal.user_id, body, now)
    return command_out(command, now)


@router.get(_PATH, response_model=Page[CommandOut])
async def list_commands(
    device_id: uuid.UUID,
    access: TargetDevice,
    db: DbSession,
    page: Pagination,
    status: CommandStatus | None = None,
) -> Page[CommandOut]:
    now = utcnow()
    rows, cursor = await services.list_for_device(db, access.device_id, status, page, now)
    return Page(items=[command_out(row, now) for row in rows], next_cursor=cursor)


@router.get(_PATH + "/pending", response_model=PendingCommands)
async def fetch_pending(
    device_id: uuid.UUID, access: TargetDevice, db: DbSession
) -> PendingCommands:
    now = utcnow()
    commands = await services.fetch_pending(db, access.device_id, now)
    return PendingCommands(items=[command_out(command, now) for command in commands])


@router.post(_PATH + "/{command_id}/ack", response_model=CommandOut)
async def acknowledge(
    device_id: uuid.UUID,
    command_id: uuid.UUID,
    body: CommandAck,
    access: TargetDevice,
    db: DbSession,
) -> CommandOut:
    now = utcnow()
    try:
        command = await services.acknowledge(db, access.device_id, command_id, body, now)
    except services.UnknownCommandError:
        raise NotFound() from None
    except services.CommandClosedError as exc:
        raise Conflict(f"command {exc}") from None
    return command_out(command, now)

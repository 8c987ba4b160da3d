"""Commands: queued by a user, fetched by the device at least once, acknowledged once.

Expiry is never written: a pending or delivered command whose ``expires_at`` has passed is
reported as expired (see ``effective_status``) and can no longer be fetched or acknowledged.
State changes are conditional updates, so a fetch racing an acknowledgement (or two
acknowledgements racing each other) cannot undo one another.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from iotwarden.commands.models import Command, CommandStatus
from iotwarden.commands.schemas import OPEN, CommandAck, CommandCreate
from iotwarden.http.pagination import PageParams, keyset, page_of

MAX_PENDING_BATCH = 50


class UnknownCommandError(LookupError):
    """No such command on this device."""


class CommandClosedError(Exception):
    """The command was already acknowledged, or expired."""


async def create(
    db: AsyncSession, device_id: uuid.UUID, user_id: uuid.UUID, body: CommandCreate, now: datetime
) -> Command:
    command = Command(
        device_id=device_id,
        created_by=user_id,
        name=body.name,
        params=body.params,
        status=CommandStatus.PENDING,
        created_at=now,
        expires_at=now + timedelta(seconds=body.ttl_seconds),
    )
    db.add(command)
    await db.commit()
    return command


def _with_status(status: CommandStatus, now: datetime) -> ColumnElement[bool]:
    if status is CommandStatus.EXPIRED:
        return and_(Command.status.in_(OPEN), Command.expires_at <= now)
    if status in OPEN:
        return and_(Command.status == status, Command.expires_at > now)
    return Command.status == status


async def list_for_device(
    db: AsyncSession,
    device_id: uuid.UUID,
    status: CommandStatus | None,
    page: PageParams,
    now: datetime,
) -> tuple[Sequence[Command], str | None]:
    """Newest first, optionally only those whose status (as reported) is ``status``."""
    stmt = select(Command).where(Command.device_id == device_id)
    if status is not None:
        stmt = stmt.where(_with_status(status, now))
    rows = (await db.scalars(keyset(stmt, page, Command.created_at, Command.id))).all()
    return page_of(rows, page)


async def fetch_pending(db: AsyncSession, device_id: uuid.UUID, now: datetime) -> list[Command]:
    """Up to 50 open, unexpired commands, oldest first; pending ones become delivered.

    Delivered commands come back on every fetch until acknowledged or expired: at least once.
    """
    stmt = (
        select(Command)
        .where(
            Command.device_id == device_id,
            Command.status.in_(OPEN),
            Command.expires_at > now,
        )
        .order_by(Command.created_at, Command.id)
        .limit(MAX_PENDING_BATCH)
    )
    commands = list((await db.scalars(stmt)).all())
    fresh = [command.id for command in commands if command.status == CommandStatus.PENDING]
    if fresh:
        # Only still-pending rows: an acknowledgement that landed meanwhile is kept.
        await db.execute(
            update(Command)
            .where(Command.id.in_(fresh), Command.status == CommandStatus.PENDING)
            .values(status=CommandStatus.DELIVERED, delivered_at=now)
        )
        await db.commit()
    return commands


async def acknowledge(
    db: AsyncSession, device_id: uuid.UUID, command_id: uuid.UUID, body: CommandAck, now: datetime
) -> Command:
    command = await db.scalar(
        select(Command).where(Command.id == command_id, Command.device_id == device_id)
    )
    if command is None:
        raise UnknownCommandError(command_id)
    if command.status not in OPEN:
        raise CommandClosedError("already acknowledged")
    if command.expires_at <= now:
        raise CommandClosedError("expired")
    claimed = await db.execute(
        update(Command)
        .where(Command.id == command.id, Command.status.in_(OPEN), Command.expires_at > now)
        .values(status=body.status, acked_at=now, result=body.result)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        await db.rollback()
        raise CommandClosedError("already acknowledged")
    await db.commit()
    return command

"""What an operator queues for a device, what the device answers, and what both are shown."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, Field, Strict

from iotwarden.accounts.schemas import StrictInput
from iotwarden.commands.models import Command, CommandStatus
from iotwarden.http.fields import BoundedJSON, Identifier

if TYPE_CHECKING:
    CommandParams = dict[str, Any]
else:
    CommandParams = BoundedJSON(4096)

MIN_TTL_SECONDS, MAX_TTL_SECONDS = 10, 86_400


class CommandCreate(StrictInput):
    name: Identifier
    params: CommandParams = Field(default_factory=dict)
    ttl_seconds: Annotated[int, Strict(), Field(ge=MIN_TTL_SECONDS, le=MAX_TTL_SECONDS)] = 300


class CommandAck(StrictInput):
    status: Literal["succeeded", "failed"]
    result: CommandParams = Field(default_factory=dict)


class CommandOut(BaseModel):
    id: uuid.UUID
    name: str
    params: dict[str, Any]
    status: CommandStatus = Field(
        description="`expired` for a command still pending or delivered after `expires_at`"
    )
    created_at: datetime
    expires_at: datetime
    delivered_at: datetime | None
    acked_at: datetime | None
    result: dict[str, Any] | None


class PendingCommands(BaseModel):
    """Oldest first. Delivery is at least once: a command stays in this list, fetch after
    fetch, until the device acknowledges it or it expires, so a device must treat a command
    id it has already carried out as done (and acknowledge it again)."""

    items: list[CommandOut]


def command_out(command: Command, now: datetime) -> CommandOut:
    return CommandOut(
        id=command.id,
        name=command.name,
        params=command.params,
        status=effective_status(command, now),
        created_at=command.created_at,
        expires_at=command.expires_at,
        delivered_at=command.delivered_at,
        acked_at=command.acked_at,
        result=command.result,
    )


OPEN: frozenset[str] = frozenset({CommandStatus.PENDING, CommandStatus.DELIVERED})


def effective_status(command: Command, now: datetime) -> CommandStatus:
    """Expiry is derived, never written: an open command past its deadline is expired."""
    if command.status in OPEN and command.expires_at <= now:
        return CommandStatus.EXPIRED
    return CommandStatus(command.status)

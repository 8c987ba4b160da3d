"""``iotwarden device list``: device names are user-controlled, so every cell is made safe."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncEngine

from iotwarden.accounts.models import User
from iotwarden.accounts.schemas import normalize_email
from iotwarden.cli.support import (
    fail,
    load_settings,
    run_with_engine,
    safe,
    stdout_console,
    timestamp,
)
from iotwarden.devices.models import Device

device_app = typer.Typer(help="Inspect devices.", no_args_is_help=True)

DeviceRow = Row[uuid.UUID, str, str, datetime | None, datetime]


async def _devices(engine: AsyncEngine, owner: str | None) -> Sequence[DeviceRow] | None:
    """The devices, of ``owner`` if given; None if there is no such user."""
    # Only the columns shown: the secret hash is never even loaded.
    query = (
        select(Device.id, Device.name, User.email, Device.disabled_at, Device.created_at)
        .join(User, Device.owner_id == User.id)
        .order_by(Device.created_at, Device.id)
    )
    async with engine.connect() as connection:
        if owner is not None:
            if await connection.scalar(select(User.id).where(User.email == owner)) is None:
                return None
            query = query.where(User.email == owner)
        return (await connection.execute(query)).all()


@device_app.command("list")
def list_command(
    owner: Annotated[
        str | None, typer.Option(help="Only the devices of the user with this email.")
    ] = None,
) -> None:
    """List devices (never their secrets)."""
    try:
        owner_email = None if owner is None else normalize_email(owner)
    except ValueError as exc:
        fail(str(exc))
    rows = run_with_engine(load_settings(), lambda engine: _devices(engine, owner_email))
    if rows is None:
        fail(f"no user with email {owner_email}")
    table = Table("id", "name", "owner", "disabled", "created")
    for device_id, name, email, disabled_at, created_at in rows:
        disabled = "no" if disabled_at is None else f"since {timestamp(disabled_at)}"
        table.add_row(str(device_id), safe(name), safe(email), disabled, timestamp(created_at))
    stdout_console().print(table)

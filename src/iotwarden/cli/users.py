"""``iotwarden user create|list``.

The password never comes from the command line, where ``ps`` and shell history would keep
it: it is typed at a hidden prompt, or piped as one line on stdin.
"""

from __future__ import annotations

import sys
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
from iotwarden.accounts.services import EmailTakenError, create_user
from iotwarden.auth.passwords import WeakPasswordError
from iotwarden.cli.support import (
    fail,
    load_settings,
    run_with_engine,
    safe,
    stdout_console,
    timestamp,
)
from iotwarden.db.engine import create_sessionmaker

user_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)


def _stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def read_password() -> str:
    if _stdin_is_terminal():
        return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    # Only the line break is removed: spaces may belong to a passphrase.
    password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    if not password:
        fail("no password given: pipe it as one line on stdin, or run in a terminal")
    return password


async def _create(engine: AsyncEngine, email: str, password: str) -> User:
    async with create_sessionmaker(engine)() as db:
        return await create_user(db, email, password)


@user_app.command("create")
def create_command(
    email: Annotated[str, typer.Argument(help="Email address of the new user.")],
) -> None:
    """Create a user. The password is prompted for (hidden), or read as one line from stdin."""
    try:
        address = normalize_email(email)
    except ValueError as exc:
        fail(str(exc))
    password = read_password()
    settings = load_settings()
    try:
        user = run_with_engine(settings, lambda engine: _create(engine, address, password))
    except WeakPasswordError as exc:
        fail(str(exc))
    except EmailTakenError:
        fail(f"a user with email {address} already exists")
    stdout_console().print(f"Created user {safe(user.email)} ({user.id})")


async def _users(engine: AsyncEngine) -> Sequence[Row[uuid.UUID, str, datetime]]:
    # Only the columns shown: the password hash is never even loaded.
    query = select(User.id, User.email, User.created_at).order_by(User.created_at, User.id)
    async with engine.connect() as connection:
        return (await connection.execute(query)).all()


@user_app.command("list")
def list_command() -> None:
    """List users."""
    rows = run_with_engine(load_settings(), _users)
    table = Table("id", "email", "created")
    for user_id, email, created_at in rows:
        table.add_row(str(user_id), safe(email), timestamp(created_at))
    stdout_console().print(table)

"""``device list``: user-controlled names cannot steer the terminal or inject Rich markup."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import Result

from iotwarden.accounts.models import User
from iotwarden.cli.support import printable, safe
from iotwarden.db.base import utcnow
from iotwarden.devices.credentials import new_secret
from iotwarden.devices.models import Device
from tests.conftest import PASSWORD

Invoke = Callable[..., Result]
InDb = Callable[[Callable[[AsyncSession], Awaitable[Any]]], Any]


def _add_device(in_db: InDb, owner: str, name: str, *, disabled: bool = False) -> tuple[str, str]:
    """Inserted directly (with a real secret hash, to check it is never shown)."""

    async def add(db: AsyncSession) -> tuple[str, str]:
        owner_id = await db.scalar(select(User.id).where(User.email == owner))
        assert owner_id is not None
        _, secret_hash = new_secret()
        device = Device(
            owner_id=owner_id,
            name=name,
            secret_hash=secret_hash,
            disabled_at=utcnow() if disabled else None,
        )
        db.add(device)
        await db.commit()
        return str(device.id), secret_hash

    device: tuple[str, str] = in_db(add)
    return device


@pytest.fixture
def owners(migrated: Invoke) -> Invoke:
    for email in ("alice@example.com", "bob@example.com"):
        assert migrated("user", "create", email, stdin=PASSWORD).exit_code == 0
    return migrated


def test_lists_devices_with_owner_and_state(owners: Invoke, in_db: InDb) -> None:
    lamp_id, lamp_hash = _add_device(in_db, "alice@example.com", "lamp")
    cam_id, cam_hash = _add_device(in_db, "bob@example.com", "camera", disabled=True)
    result = owners("device", "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    lamp = next(line for line in lines if lamp_id in line)
    camera = next(line for line in lines if cam_id in line)
    assert "lamp" in lamp
    assert "alice@example.com" in lamp
    assert " no " in lamp
    assert "camera" in camera
    assert "bob@example.com" in camera
    assert "since " in camera
    assert lamp_hash not in result.output
    assert cam_hash not in result.output


def test_owner_filter(owners: Invoke, in_db: InDb) -> None:
    _add_device(in_db, "alice@example.com", "lamp")
    _add_device(in_db, "bob@example.com", "camera")
    result = owners("device", "list", "--owner", "Bob@Example.com")
    assert result.exit_code == 0, result.output
    assert "camera" in result.stdout
    assert "lamp" not in result.stdout
    assert "alice@example.com" not in result.stdout


def test_unknown_owner_is_an_error(owners: Invoke) -> None:
    result = owners("device", "list", "--owner", "nobody@example.com")
    assert result.exit_code == 1
    assert "no user with email nobody@example.com" in result.stderr


def test_hostile_names_are_neutralized(owners: Invoke, in_db: InDb) -> None:
    # Clear screen, a C1 CSI, a terminal title change, a bidi override, and Rich markup.
    name = "lamp\x1b[2J\x9b31m\x1b]0;pwned\x07\u202eevil[bold red]boom[/bold red][link=x]y"
    _add_device(in_db, "alice@example.com", name)
    result = owners("device", "list")
    assert result.exit_code == 0, result.output
    for raw in ("\x1b", "\x9b", "\x07", "\u202e"):
        assert raw not in result.output
    # Markup is shown literally, not interpreted (which would have dropped it).
    assert "[bold red]boom[/bold red][link=x]y" in result.stdout


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain name", "plain name"),
        ("emoji 💡 ünïcode", "emoji 💡 ünïcode"),
        ("a\x1b[31mb", "a\ufffd[31mb"),
        ("tab\tnew\nline", "tab\ufffdnew\ufffdline"),
        ("c1\x85\x9bx", "c1\ufffd\ufffdx"),
        ("bidi\u202e\u2066zero\u200b", "bidi\ufffd\ufffdzero\ufffd"),
        ("sep\u2028\u2029", "sep\ufffd\ufffd"),
        ("lone\ud800", "lone\ufffd"),
    ],
)
def test_printable(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_safe_escapes_markup() -> None:
    assert safe("[red]x[/red]\x1b") == "\\[red]x\\[/red]\ufffd"

"""``db upgrade`` and ``user create|list``: the password comes from a prompt or stdin only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import Result

from iotwarden.accounts.models import User
from iotwarden.accounts.services import authenticate
from iotwarden.cli import users
from tests.conftest import PASSWORD

Invoke = Callable[..., Result]
InDb = Callable[[Callable[[AsyncSession], Awaitable[Any]]], Any]


def _logs_in(in_db: InDb, email: str, password: str) -> bool:
    async def check(db: AsyncSession) -> bool:
        return await authenticate(db, email, password) is not None

    return bool(in_db(check))


def _user_count(in_db: InDb) -> int:
    async def count(db: AsyncSession) -> int:
        return await db.scalar(select(func.count()).select_from(User)) or 0

    return int(in_db(count))


def test_db_upgrade_reports_the_revision_and_is_idempotent(cli: Invoke) -> None:
    first = cli("db", "upgrade")
    assert first.exit_code == 0, first.output
    assert "upgraded from an empty schema to revision" in first.stdout
    assert "iotwarden.db" in first.stdout
    revision = first.stdout.split("to revision ")[1].split()[0]
    second = cli("db", "upgrade")
    assert second.exit_code == 0, second.output
    assert f"already at revision {revision}" in second.stdout


def test_database_errors_are_short_and_hide_the_url(
    cli: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing listens on port 9: the error path must not echo the URL's password either.
    monkeypatch.setenv("DATABASE_URL", "postgresql://admin:hunter2hunter2@127.0.0.1:9/iotwarden")
    result = cli("db", "upgrade")
    assert result.exit_code == 1
    assert "database error" in result.stderr
    assert "hunter2" not in result.output
    assert "Traceback" not in result.output


def test_commands_before_migration_fail_clearly(cli: Invoke) -> None:
    result = cli("user", "list")
    assert result.exit_code == 1
    assert "no such table" in result.stderr
    assert "Traceback" not in result.output


def test_create_from_stdin_then_list(migrated: Invoke, in_db: InDb) -> None:
    created = migrated("user", "create", "Alice@Example.COM", stdin=PASSWORD + "\n")
    assert created.exit_code == 0, created.output
    assert "Created user alice@example.com" in created.stdout
    assert _logs_in(in_db, "alice@example.com", PASSWORD)
    listing = migrated("user", "list")
    assert listing.exit_code == 0, listing.output
    assert "alice@example.com" in listing.stdout
    for secret in (PASSWORD, "$argon2"):
        assert secret not in created.output
        assert secret not in listing.output


def test_stdin_password_loses_only_its_line_break(migrated: Invoke, in_db: InDb) -> None:
    padded = "  " + PASSWORD + "  "
    result = migrated("user", "create", "pad@example.com", stdin=padded + "\r\n")
    assert result.exit_code == 0, result.output
    assert _logs_in(in_db, "pad@example.com", padded)
    assert not _logs_in(in_db, "pad@example.com", PASSWORD)


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short", "at least 15 characters"),
        ("carol@example.com", "must not be your email"),
    ],
)
def test_weak_password_is_refused(
    migrated: Invoke, in_db: InDb, password: str, reason: str
) -> None:
    result = migrated("user", "create", "carol@example.com", stdin=password + "\n")
    assert result.exit_code == 1
    assert reason in result.stderr
    assert "Traceback" not in result.output
    assert _user_count(in_db) == 0


def test_duplicate_email_is_refused(migrated: Invoke, in_db: InDb) -> None:
    assert migrated("user", "create", "dan@example.com", stdin=PASSWORD).exit_code == 0
    again = migrated("user", "create", "DAN@example.com", stdin="another long passphrase 9\n")
    assert again.exit_code == 1
    assert "already exists" in again.stderr
    assert _user_count(in_db) == 1
    assert _logs_in(in_db, "dan@example.com", PASSWORD)


def test_invalid_email_is_refused(migrated: Invoke, in_db: InDb) -> None:
    result = migrated("user", "create", "not-an-email", stdin=PASSWORD)
    assert result.exit_code == 1
    assert "not a valid email address" in result.stderr
    assert _user_count(in_db) == 0


def test_empty_stdin_is_refused(migrated: Invoke, in_db: InDb) -> None:
    result = migrated("user", "create", "erin@example.com", stdin="")
    assert result.exit_code == 1
    assert "no password given" in result.stderr
    assert _user_count(in_db) == 0


@pytest.mark.parametrize(
    "args",
    [
        ("--password", PASSWORD),
        (f"--password={PASSWORD}",),
        ("-p", PASSWORD),
        (PASSWORD,),
    ],
)
def test_password_is_never_taken_from_argv(
    migrated: Invoke, in_db: InDb, args: tuple[str, ...]
) -> None:
    result = migrated("user", "create", "frank@example.com", *args, stdin=PASSWORD)
    assert result.exit_code == 2  # a usage error: there is no such option or argument
    assert _user_count(in_db) == 0


def test_terminal_prompts_twice_hidden(
    migrated: Invoke, in_db: InDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(users, "_stdin_is_terminal", lambda: True)
    typed = f"{PASSWORD}\nnot the same at all\n{PASSWORD}\n{PASSWORD}\n"
    result = migrated("user", "create", "gina@example.com", stdin=typed)
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert PASSWORD not in result.output  # hidden input is not echoed
    assert _logs_in(in_db, "gina@example.com", PASSWORD)

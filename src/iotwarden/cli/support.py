"""What every command shares: settings, an engine for one command, and output that is safe.

Names and emails come from users; before they reach a terminal their control characters
(escape sequences, bidi overrides) are replaced and their Rich markup is escaped.
"""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.text import Text
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from iotwarden.config import Settings
from iotwarden.db.engine import create_engine
from iotwarden.keys import ensure_data_dir

T = TypeVar("T")

# C0/C1 controls (ESC, CSI), format characters (bidi overrides, zero-width), surrogates
# that cannot be encoded, and the Unicode line and paragraph separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_REPLACEMENT = "\N{REPLACEMENT CHARACTER}"
# A pipe has no width; tables piped to grep should not be folded at 80 columns.
_PIPE_WIDTH = 200


def printable(value: str) -> str:
    """``value`` with every character that could steer a terminal replaced."""
    return "".join(
        _REPLACEMENT if unicodedata.category(char) in _UNSAFE_CATEGORIES else char for char in value
    )


def safe(value: str) -> str:
    """``value`` for Rich markup: printable, with its own markup shown literally."""
    return escape(printable(value))


def timestamp(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def stdout_console() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = _PIPE_WIDTH
    return console


def fail(message: str) -> NoReturn:
    """Print ``message`` in red on stderr, without a traceback, and exit 1."""
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    console.print(Text(printable(message), style="red"))
    raise typer.Exit(1)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        # Settings hide the input in errors, so no value (secret or not) is echoed.
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        fail(f"invalid configuration: {problems}")


def run_with_engine(settings: Settings, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run ``work`` on an engine made for this one command, and dispose of it after."""
    if settings.database_url is None:
        # The default SQLite file lives in the data dir.
        ensure_data_dir(settings.data_dir)

    try:
        engine = create_engine(settings.resolved_database_url)
    except (ArgumentError, ValueError) as exc:
        # The URL itself is not echoed: it may carry a password.
        fail(f"invalid DATABASE_URL: {_first_line(exc)}")

    async def main() -> T:
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except (SQLAlchemyError, OSError) as exc:
        fail(f"database error: {_first_line(exc)} (is the database reachable and migrated?)")


def _first_line(exc: Exception) -> str:
    # SQLAlchemy appends the statement and its parameters on the following lines.
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__

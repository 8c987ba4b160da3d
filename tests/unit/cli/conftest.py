"""Run the CLI in-process against a fresh data dir, with no configuration from outside."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner, Result

from iotwarden.cli.main import app
from iotwarden.config import Settings
from iotwarden.db.engine import create_engine, create_sessionmaker

Invoke = Callable[..., Result]
InDb = Callable[[Callable[[AsyncSession], Awaitable[Any]]], Any]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("IOTWARDEN_") or name in {"DATABASE_URL", "REDIS_URL"}:
            monkeypatch.delenv(name)
    path = tmp_path / "data"
    monkeypatch.setenv("IOTWARDEN_DATA_DIR", str(path))
    return path


@pytest.fixture
def cli(data_dir: Path) -> Invoke:
    def invoke(*args: str, stdin: str | None = None) -> Result:
        return CliRunner().invoke(app, list(args), input=stdin)

    return invoke


@pytest.fixture
def migrated(cli: Invoke) -> Invoke:
    result = cli("db", "upgrade")
    assert result.exit_code == 0, result.output
    return cli


@pytest.fixture
def in_db(data_dir: Path) -> InDb:
    """Run ``work`` with a session on the database the CLI uses (tests here are sync)."""

    def run(work: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
        async def main() -> Any:
            engine = create_engine(Settings().resolved_database_url)
            try:
                async with create_sessionmaker(engine)() as db:
                    return await work(db)
            finally:
                await engine.dispose()

        return asyncio.run(main())

    return run


@pytest.fixture
def keep_logging() -> Iterator[None]:
    """``serve`` reconfigures logging for the whole process; put pytest's back afterwards."""
    loggers = [
        logging.getLogger(name) for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access")
    ]
    saved = [(lg.handlers[:], lg.level, lg.propagate, lg.disabled) for lg in loggers]
    yield
    for lg, (handlers, level, propagate, disabled) in zip(loggers, saved, strict=True):
        lg.handlers[:] = handlers
        lg.setLevel(level)
        lg.propagate = propagate
        lg.disabled = disabled

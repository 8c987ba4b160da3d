"""Everything a request may need, built once in ``create_app`` and reached by dependency."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from iotwarden.auth.tokens import TokenService
from iotwarden.config import Settings
from iotwarden.keys import Keys
from iotwarden.state import StateStore


@dataclass(frozen=True, repr=False)
class AppContext:
    settings: Settings
    keys: Keys
    tokens: TokenService
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    state: StateStore

    @property
    def blob_dir(self) -> Path:
        return self.settings.recordings_dir


def get_context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_context(request).sessions() as session:
        yield session


async def _context(request: Request) -> AppContext:
    # Async on purpose: a plain ``def`` dependency would cost a thread hop per request.
    return get_context(request)


AppCtx = Annotated[AppContext, Depends(_context)]
DbSession = Annotated[AsyncSession, Depends(get_db)]

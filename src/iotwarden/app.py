"""``create_app()``: every router and middleware, wired once, in order."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from iotwarden import __version__
from iotwarden.accounts.routes import router as accounts_router
from iotwarden.auth.token_endpoint import router as token_router
from iotwarden.auth.tokens import TokenService
from iotwarden.commands.routes import router as commands_router
from iotwarden.config import Settings
from iotwarden.context import AppContext
from iotwarden.db.engine import create_engine, create_sessionmaker
from iotwarden.devices.routes import router as devices_router
from iotwarden.http.body_limit import BodyLimitMiddleware
from iotwarden.http.headers import SecurityHeadersMiddleware
from iotwarden.http.meta import router as meta_router
from iotwarden.http.problems import install_problem_handlers
from iotwarden.keys import load_keys
from iotwarden.logs import AccessLogMiddleware
from iotwarden.recordings.media import AUDIO_TYPES
from iotwarden.recordings.routes import router as recordings_router
from iotwarden.sharing.routes import router as sharing_router
from iotwarden.state import MemoryStore, open_state
from iotwarden.telemetry.routes import router as telemetry_router
from iotwarden.telemetry.writer import install_writer

# The router tries routes in this order: what devices call many times a second comes first.
ROUTERS = (
    telemetry_router,
    commands_router,
    meta_router,
    token_router,
    accounts_router,
    devices_router,
    recordings_router,
    sharing_router,
)


def build_context(settings: Settings) -> AppContext:
    keys = load_keys(settings)
    state = open_state(settings.redis_url)
    engine = create_engine(settings.resolved_database_url)
    # An in-process store forgets revocations on restart, so older tokens are refused.
    not_before = int(time.time()) if isinstance(state, MemoryStore) else 0
    tokens = TokenService(
        keys.signing, issuer=settings.issuer, audience=settings.audience, not_before=not_before
    )
    return AppContext(
        settings=settings,
        keys=keys,
        tokens=tokens,
        engine=engine,
        sessions=create_sessionmaker(engine),
        state=state,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    ctx = build_context(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await telemetry.close()
            await ctx.state.close()
            await ctx.engine.dispose()

    app = FastAPI(
        title="iotwarden",
        version=__version__,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    telemetry = install_writer(app, ctx.engine)
    install_problem_handlers(app)
    for router in ROUTERS:
        # Flat, not include_router: the route table stays a plain list that tests can walk.
        app.router.routes.extend(router.routes)
    _add_middleware(app, settings)
    return app


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    # Added innermost first: the access log sees the final status of everything.
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(
        BodyLimitMiddleware,
        default=settings.max_json_body,
        large=settings.max_recording_bytes,
        large_types=AUDIO_TYPES,
    )
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.is_production)
    app.add_middleware(AccessLogMiddleware)

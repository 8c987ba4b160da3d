"""``iotwarden serve``: refuse an insecure configuration, migrate, then run uvicorn."""

from __future__ import annotations

import gc
import logging
import sys
import time
from functools import partial
from typing import Annotated

import typer
import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from iotwarden.app import create_app
from iotwarden.cli.db import migrate
from iotwarden.cli.support import fail, load_settings, run_with_engine
from iotwarden.config import Settings
from iotwarden.db.engine import create_sessionmaker
from iotwarden.keys import InsecureConfigurationError, load_keys
from iotwarden.logs import configure_logging
from iotwarden.recordings.blobs import BlobStore
from iotwarden.recordings.services import sweep_orphans

# An import string, so that uvicorn can start it again in every worker process.
APP_FACTORY = "iotwarden.cli.serve:worker_app"
# How long a thread that wants the GIL waits before the running one must let go (Python's
# default is 5 ms). The telemetry writer thread takes the GIL back after each SQLite step;
# behind a busy event loop, each of those waits delayed every commit, and with it every
# acknowledgement, by up to 5 ms.
SWITCH_INTERVAL_S = 0.0002
# Requests that wait for a commit keep their objects alive across many allocations, so the
# cyclic collector's young generations keep finding and promoting them, and full collections
# walked every object the app built at startup. Those are frozen out of collection, and the
# young generation is collected less often (Python's default is every 700 allocations).
GC_THRESHOLDS = (10_000, 20, 20)

log = logging.getLogger("iotwarden.serve")


def worker_app() -> FastAPI:
    """Uvicorn's app factory: each worker process sets up JSON logs, then builds the app."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    settings = Settings()
    configure_logging(settings.log_level)
    app = create_app(settings)
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    return app


async def sweep_recordings(settings: Settings, engine: AsyncEngine) -> int:
    """Delete the recording files a crash left without a row (see ``sweep_orphans``)."""
    async with create_sessionmaker(engine)() as db:
        return await sweep_orphans(db, BlobStore(settings.recordings_dir), time.time())


def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to bind.  [default: IOTWARDEN_HOST or 127.0.0.1]")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Port to bind.  [default: IOTWARDEN_PORT or 8000]"),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Number of worker processes.")] = 1,
    proxy_headers: Annotated[
        bool,
        typer.Option(
            help="Trust X-Forwarded-For/-Proto from the addresses in FORWARDED_ALLOW_IPS "
            "(127.0.0.1 unless set). Only behind a reverse proxy."
        ),
    ] = False,
) -> None:
    """Check the configuration, create the keys, apply migrations and serve HTTP."""
    settings = load_settings()
    try:
        configure_logging(settings.log_level)
    except ValueError:
        fail(f"invalid IOTWARDEN_LOG_LEVEL: {settings.log_level!r}")
    try:
        load_keys(settings)
    except InsecureConfigurationError as exc:
        fail(str(exc))
    in_process_state = settings.redis_url is None or settings.redis_url.startswith("memory:")
    if workers > 1 and in_process_state and settings.is_production:
        fail(
            "refusing to start: with several workers and no REDIS_URL each worker keeps its "
            "own token revocations and single-use grants; set REDIS_URL or use --workers 1"
        )
    before, after = run_with_engine(settings, migrate)
    log.info("database migrated", extra={"revision_before": before, "revision": after})
    removed = run_with_engine(settings, partial(sweep_recordings, settings))
    log.info("recording files swept", extra={"removed": removed})
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        proxy_headers=proxy_headers,
        server_header=False,
        # Logging stays ours (JSON, root level); uvicorn's access log would print raw paths.
        log_config=None,
        access_log=False,
    )

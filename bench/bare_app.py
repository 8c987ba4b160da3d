"""The baseline for bench/ingest.py: the same route shape and models, and nothing else.

The same body model (``TelemetryBatch``) and answer model (``TelemetryAccepted``, 201), with
no authentication, no middleware and no storage: what FastAPI, pydantic and uvicorn cost on
their own for ``POST /api/v1/devices/{device_id}/telemetry``. Served with
``uvicorn --factory --app-dir bench bare_app:create_app``.
"""

from __future__ import annotations

import uuid

from fastapi import FastAPI

from iotwarden.telemetry.schemas import TelemetryAccepted, TelemetryBatch


def create_app() -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.post(
        "/api/v1/devices/{device_id}/telemetry",
        status_code=201,
        response_model=TelemetryAccepted,
    )
    async def ingest(device_id: uuid.UUID, batch: TelemetryBatch) -> TelemetryAccepted:
        return TelemetryAccepted(accepted=len(batch.readings))

    return app

"""Telemetry routes: a device reports its own readings; its users read them back."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime
from sqlalchemy.exc import IntegrityError

from iotwarden.auth.deps import TargetDevice, target_device
from iotwarden.auth.route import GuardedRoute
from iotwarden.context import DbSession, get_context
from iotwarden.http.problems import NotFound, Unprocessable
from iotwarden.telemetry import services
from iotwarden.telemetry.schemas import (
    METRIC_PATTERN,
    BucketOut,
    BucketSeries,
    RawSeries,
    ReadingOut,
    TelemetryAccepted,
    TelemetryBatch,
    from_ms,
    to_ms,
)
from iotwarden.telemetry.writer import writer_of

router = APIRouter(route_class=GuardedRoute, tags=["telemetry"])
_PATH = "/api/v1/devices/{device_id}/telemetry"
MAX_SPAN = timedelta(days=31)
MAX_RAW_LIMIT = 10_000


@router.post(_PATH, status_code=201, response_model=TelemetryAccepted)
async def ingest(
    device_id: uuid.UUID, batch: TelemetryBatch, request: Request
) -> TelemetryAccepted:
    """Store a batch; a 2xx means every reading in it is committed."""
    # The hottest route: what typed dependencies would give, read off the request (each
    # dependency costs FastAPI a resolution per request).
    access = target_device(request)
    writer = writer_of(request.app)
    max_future = get_context(request).settings.telemetry_max_future_seconds
    try:
        accepted = await services.ingest(writer, access.device_id, batch, max_future)
    except IntegrityError:
        # The only constraint left once conflicts are ignored: the device is gone.
        raise NotFound() from None
    return TelemetryAccepted(accepted=accepted)


@router.get(_PATH, response_model=RawSeries | BucketSeries)
async def read(
    device_id: uuid.UUID,
    access: TargetDevice,
    db: DbSession,
    metric: Annotated[str, Query(pattern=METRIC_PATTERN)],
    start: AwareDatetime,
    end: AwareDatetime,
    bucket: Annotated[int | None, Query(ge=60, le=86_400)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_RAW_LIMIT)] = 1000,
) -> RawSeries | BucketSeries:
    """Readings in [start, end), raw (bounded by ``limit``) or aggregated per ``bucket`` s."""
    if end <= start:
        raise Unprocessable("`end` must be after `start`")
    if end - start > MAX_SPAN:
        raise Unprocessable(f"at most {MAX_SPAN.days} days between `start` and `end`")
    start_ms, end_ms = to_ms(start), to_ms(end)
    if bucket is None:
        rows, truncated = await services.raw(db, access.device_id, metric, start_ms, end_ms, limit)
        readings = [ReadingOut(ts=from_ms(ts), value=value) for ts, value in rows]
        return RawSeries(metric=metric, readings=readings, truncated=truncated)
    aggregated = await services.buckets(
        db, access.device_id, metric, start_ms, end_ms, bucket * 1000
    )
    return BucketSeries(
        metric=metric,
        bucket=bucket,
        buckets=[
            BucketOut(start=from_ms(first), min=low, max=high, avg=mean, count=count)
            for first, low, high, mean, count in aggregated
        ],
    )

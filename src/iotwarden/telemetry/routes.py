"""Telemetry routes: a device reports its own readings; its users read them back."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, ValidationError
from sqlalchemy.exc import IntegrityError
from starlette.types import Receive, Scope, Send

from iotwarden.auth.deps import TargetDevice, target_device
from iotwarden.auth.route import GuardedRoute, Handler
from iotwarden.context import DbSession, get_context
from iotwarden.http.problems import NotFound, Unprocessable, body_errors
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


async def ingest(
    device_id: uuid.UUID, batch: TelemetryBatch, request: Request
) -> TelemetryAccepted:
    """Store a batch; a 2xx means every reading in it is committed."""
    # What typed dependencies would give, read off the request: see IngestRoute.
    access = target_device(request)
    writer = writer_of(request.app)
    max_future = get_context(request).settings.telemetry_max_future_seconds
    try:
        accepted = await services.ingest(writer, access.device_id, batch, max_future)
    except IntegrityError:
        # The only constraint left once conflicts are ignored: the device is gone.
        raise NotFound() from None
    return TelemetryAccepted(accepted=accepted)


class IngestRoute(GuardedRoute):
    """The hottest route, served without FastAPI's generic parameter handling.

    FastAPI parses a JSON body with the json module, validates the objects it built, solves
    every declared parameter and validates the answer again, all per request. Here pydantic
    parses and validates the bytes in one step; the path's device id is the one the policy
    already resolved. ``ingest`` above still declares the operation (OpenAPI) and does the work.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        handler = self.get_route_handler()

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            response = await handler(Request(scope, receive, send))
            await response(scope, receive, send)

        # Not FastAPI's request_response(): its per-request exit stacks serve dependencies
        # with yield, which this route has none of. What the handler raises reaches the
        # app's exception middleware, which answers it as for every other route.
        self.app = app

    def request_handler(self) -> Handler:
        async def handle(request: Request) -> Response:
            try:
                batch = TelemetryBatch.model_validate_json(await request.body())
            except ValidationError as exc:
                raise RequestValidationError(body_errors(exc)) from None
            answer = await ingest(target_device(request).device_id, batch, request)
            return Response(answer.model_dump_json(), 201, media_type="application/json")

        return handle


router.add_api_route(
    _PATH,
    ingest,
    methods=["POST"],
    status_code=201,
    response_model=TelemetryAccepted,
    route_class_override=IngestRoute,
)


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

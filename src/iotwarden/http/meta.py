"""Health for load balancers and the API description, both public by policy."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import text

from iotwarden.auth.route import GuardedRoute
from iotwarden.context import AppCtx
from iotwarden.http.problems import problem_response

router = APIRouter(route_class=GuardedRoute, tags=["meta"])


@router.get("/healthz", response_model=None)
async def healthz(ctx: AppCtx) -> Any:
    try:
        async with ctx.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        state_ok = await ctx.state.ping()
    except Exception:
        state_ok = False
    if not state_ok:
        return problem_response(503, "unavailable", "Service unavailable")
    return {"status": "ok"}


@router.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request) -> dict[str, Any]:
    return request.app.openapi()  # type: ignore[no-any-return]

from __future__ import annotations

from fastapi import APIRouter

from iotwarden.auth.route import GuardedRoute

router = APIRouter(route_class=GuardedRoute, tags=["recordings"])

"""Deny by default: the live route table and the policy table must match exactly."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from iotwarden.auth.policies import POLICIES
from iotwarden.auth.principals import PrincipalKind
from iotwarden.auth.route import GuardedRoute, UndeclaredRouteError, route_method


def _violations(app: FastAPI) -> list[str]:
    problems, seen = [], set()
    for route in app.routes:
        if not isinstance(route, GuardedRoute):
            problems.append(f"{getattr(route, 'path', route)} bypasses the policy table")
            continue
        key = (route_method(route), route.path)
        if key not in POLICIES:
            problems.append(f"{key} has no policy")
        seen.add(key)
    problems.extend(f"{key} has a policy but no route" for key in set(POLICIES) - seen)
    return problems


def test_every_route_is_guarded_and_declared(app: FastAPI) -> None:
    assert _violations(app) == []


def test_the_walk_catches_a_route_added_around_the_table(app: FastAPI) -> None:
    async def debug() -> dict[str, str]:
        return {}

    app.router.routes.append(APIRoute("/api/v1/internal/debug", debug))
    assert _violations(app) == ["/api/v1/internal/debug bypasses the policy table"]


def test_only_token_and_meta_routes_are_anonymous() -> None:
    anonymous = {
        key for key, policy in POLICIES.items() if PrincipalKind.ANONYMOUS in policy.principals
    }
    assert anonymous == {
        ("GET", "/healthz"),
        ("GET", "/openapi.json"),
        ("POST", "/api/v1/auth/login"),
        ("POST", "/oauth/token"),
    }


def test_authenticated_routes_name_a_permission() -> None:
    for key, policy in POLICIES.items():
        if PrincipalKind.ANONYMOUS not in policy.principals:
            assert policy.permission, f"{key} admits principals without naming a permission"


def test_undeclared_route_cannot_be_built() -> None:
    router = APIRouter(route_class=GuardedRoute)
    with pytest.raises(UndeclaredRouteError):

        @router.get("/api/v1/internal/debug")
        async def debug() -> dict[str, str]:
            return {}

"""Deny by default: the live route table and the policy table must match exactly."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from iotwarden.auth.policies import POLICIES
from iotwarden.auth.principals import PrincipalKind
from iotwarden.auth.route import GuardedRoute, UndeclaredRouteError, route_method


def test_every_route_is_guarded_and_declared(app: FastAPI) -> None:
    seen = set()
    for route in app.routes:
        assert isinstance(route, GuardedRoute), f"{route} bypasses the policy table"
        key = (route_method(route), route.path)
        assert key in POLICIES, f"{key} has no policy"
        seen.add(key)
    assert seen == set(POLICIES), f"policies without a route: {set(POLICIES) - seen}"


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


def test_plain_routes_are_refused_by_the_walk() -> None:
    router = APIRouter()

    @router.get("/healthz")
    async def sneaky() -> dict[str, str]:
        return {}

    assert not isinstance(router.routes[0], GuardedRoute)
    assert isinstance(router.routes[0], APIRoute)

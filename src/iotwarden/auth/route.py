"""The route class every API router uses: it finds its policy when built, or refuses to exist."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from iotwarden.auth.policies import POLICIES
from iotwarden.auth.policy import Policy, authorize
from iotwarden.context import get_context
from iotwarden.http.problems import BadRequest


class UndeclaredRouteError(LookupError):
    pass


def policy_for(method: str, path: str) -> Policy:
    try:
        return POLICIES[(method, path)]
    except KeyError:
        raise UndeclaredRouteError(
            f"{method} {path} has no entry in iotwarden.auth.policies.POLICIES"
        ) from None


def route_method(route: APIRoute) -> str:
    methods = set(route.methods or ()) - {"HEAD"}
    if len(methods) != 1:
        raise UndeclaredRouteError(f"{route.path}: declare one method per route")
    return methods.pop()


class GuardedRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        policy = policy_for(route_method(self), self.path)

        async def guarded(request: Request) -> Response:
            request.state.principal = await authorize(request, policy, get_context(request))
            try:
                return await handler(request)
            except RecursionError:
                raise BadRequest("body nested too deeply") from None

        return guarded

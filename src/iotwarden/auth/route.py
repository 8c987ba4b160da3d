"""The route class every API router uses: it finds its policy when built, or refuses to exist."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette._utils import get_route_path
from starlette.routing import Match
from starlette.types import Scope

from iotwarden.auth.policies import POLICIES
from iotwarden.auth.policy import Policy, authorize
from iotwarden.context import get_context
from iotwarden.http.problems import BadRequest

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


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
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        # The path regex starts and ends with these literal texts: a path without both
        # cannot match.
        self._literal_prefix = path.split("{", 1)[0]
        self._literal_suffix = path.rsplit("}", 1)[-1] if "{" in path else path

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        # The router tries every route in turn: refuse most of them without the regex and
        # FastAPI's per-route scope lookups. Only a plain HTTP match is decided here; an
        # included router's context (scope["fastapi"]) goes the usual way.
        if scope["type"] == "http" and "fastapi" not in scope:
            route_path = get_route_path(scope)
            if not (
                route_path.startswith(self._literal_prefix)
                and route_path.endswith(self._literal_suffix)
            ):
                return Match.NONE, {}
        return super().matches(scope)

    def request_handler(self) -> Handler:
        """What serves the request once its policy admitted it: FastAPI's handler, which
        solves the endpoint's declared parameters. A subclass may serve a route itself."""
        return super().get_route_handler()

    def get_route_handler(self) -> Handler:
        handler = self.request_handler()
        policy = policy_for(route_method(self), self.path)

        async def guarded(request: Request) -> Response:
            request.state.principal = await authorize(request, policy, get_context(request))
            try:
                return await handler(request)
            except RecursionError:
                raise BadRequest("body nested too deeply") from None

        return guarded

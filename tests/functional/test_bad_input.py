"""Hostile and broken input: every JSON route answers 4xx problem+json and stores nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from iotwarden.context import AppContext
from iotwarden.db.models import Base
from tests.conftest import Account, DeviceHandle, make_device

NOW_MS = 1_760_000_000_000
SQL = "x'); DROP TABLE devices;--"
HUGE_FLOAT = "__1e400__"  # JSON allows 1e400; Python's encoder will not write it

# (who calls, path under the device, a valid body): each case below breaks one thing.
ROUTES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "register": ("user", "/api/v1/devices", {"name": "lamp"}),
    "patch": ("user", "/api/v1/devices/{id}", {"name": "lamp"}),
    "telemetry": (
        "device",
        "/api/v1/devices/{id}/telemetry",
        {"readings": [{"ts": NOW_MS, "metric": "temp", "value": 1.5}]},
    ),
    "command": ("user", "/api/v1/devices/{id}/commands", {"name": "reboot", "params": {}}),
    "share": ("user", "/api/v1/devices/{id}/shares", {"email": "c@example.com", "role": "viewer"}),
    "password": (
        "user",
        "/api/v1/me/password",
        {"current_password": "x" * 20, "new_password": "y" * 20},
    ),
    "login": ("none", "/api/v1/auth/login", {"email": "a@example.com", "password": "x" * 20}),
}

RAW_CASES: dict[str, bytes] = {
    "invalid utf-8": b'{"name": "\xff\xfe\xfa"}',
    "not json": b"{name: lamp",
    "truncated": b'{"name": "lamp"',
    "deeply nested": b'{"name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "huge integer": b'{"name": ' + b"9" * 5000 + b"}",
    "json array": b'["name", "lamp"]',
    "empty": b"",
    "oversized": b'{"name": "' + b"a" * (2 * 1024 * 1024) + b'"}',
}


# Fields with a strict pattern, where SQL metacharacters must be refused outright.
STRICT_FIELDS: dict[str, list[tuple[str | int, ...]]] = {
    "telemetry": [("readings", 0, "metric")],
    "command": [("name",)],
    "share": [("email",), ("role",)],
    "login": [("email",)],
}


def _mutations(route: str, body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    first = next(iter(body))
    cases = {
        "unknown field": {**body, "is_admin": True},
        "wrong type": {**body, first: {"$ne": None}},
        "null": {**body, first: None},
        "nul byte": _strings(body, lambda s: s + "\x00"),
        "huge float": _replace_numbers(body, HUGE_FLOAT),
        "huge int": _replace_numbers(body, 10**30),
    }
    for path in STRICT_FIELDS.get(route, []):
        cases[f"sql in {path[-1]}"] = _set(body, path, SQL)
    return cases


def _set(value: Any, path: tuple[str | int, ...], new: Any) -> Any:
    copy = json.loads(json.dumps(value))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return copy


def _strings(value: Any, change: Callable[[str], str]) -> Any:
    if isinstance(value, dict):
        return {k: _strings(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [_strings(item, change) for item in value]
    return change(value) if isinstance(value, str) else value


def _replace_numbers(value: Any, number: object) -> Any:
    if isinstance(value, dict):
        return {k: _replace_numbers(v, number) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_numbers(item, number) for item in value]
    return number if isinstance(value, (int, float)) and not isinstance(value, bool) else value


async def _counts(ctx: AppContext) -> dict[str, int]:
    async with ctx.sessions() as db:
        return {
            name: int(await db.scalar(select(func.count()).select_from(table)) or 0)
            for name, table in Base.metadata.tables.items()
            if name not in ("sessions", "refresh_tokens")
        }


def _auth(who: str, alice: Account, device: DeviceHandle) -> dict[str, str]:
    return {"user": alice.headers, "device": device.headers, "none": {}}[who]


@pytest.fixture
async def device(ctx: AppContext, client: httpx.AsyncClient, alice: Account) -> DeviceHandle:
    return await make_device(ctx, client, alice)


def _assert_problem(response: httpx.Response, where: str) -> None:
    assert 400 <= response.status_code < 500, (
        f"{where}: {response.status_code} {response.text[:200]}"
    )
    assert response.headers["content-type"] == "application/problem+json", where
    body = response.json()
    assert body["type"].startswith("urn:iotwarden:problem:"), where
    assert "Traceback" not in response.text


@pytest.mark.parametrize("route", sorted(ROUTES))
async def test_structural_garbage(
    route: str, ctx: AppContext, client: httpx.AsyncClient, alice: Account, device: DeviceHandle
) -> None:
    who, path, _ = ROUTES[route]
    method = "PATCH" if route == "patch" else "POST"
    before = await _counts(ctx)
    for case, raw in RAW_CASES.items():
        headers = {**_auth(who, alice, device), "content-type": "application/json"}
        response = await client.request(
            method, path.format(id=device.id), content=raw, headers=headers
        )
        _assert_problem(response, f"{route} / {case}")
        if case == "oversized":
            assert response.status_code == 413
    assert await _counts(ctx) == before


@pytest.mark.parametrize("route", sorted(ROUTES))
async def test_schema_violations(
    route: str, ctx: AppContext, client: httpx.AsyncClient, alice: Account, device: DeviceHandle
) -> None:
    who, path, body = ROUTES[route]
    method = "PATCH" if route == "patch" else "POST"
    before = await _counts(ctx)
    for case, mutated in _mutations(route, body).items():
        if mutated == body:
            continue
        raw = json.dumps(mutated).replace(f'"{HUGE_FLOAT}"', "1e400").encode()
        headers = {**_auth(who, alice, device), "content-type": "application/json"}
        response = await client.request(
            method, path.format(id=device.id), content=raw, headers=headers
        )
        _assert_problem(response, f"{route} / {case}")
    assert await _counts(ctx) == before


@pytest.mark.parametrize("route", ["register", "telemetry", "command", "share"])
async def test_wrong_content_type_is_415(
    route: str, ctx: AppContext, client: httpx.AsyncClient, alice: Account, device: DeviceHandle
) -> None:
    who, path, body = ROUTES[route]
    before = await _counts(ctx)
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        response = await client.post(
            path.format(id=device.id),
            content=str(body).encode(),
            headers={**_auth(who, alice, device), "content-type": content_type},
        )
        assert response.status_code == 415, (content_type, response.text)
    assert await _counts(ctx) == before


async def test_sql_metacharacters_in_free_text_are_stored_verbatim(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = await client.post(
        "/api/v1/devices",
        json={"name": SQL, "labels": {"room": "a' OR '1'='1"}},
        headers=alice.headers,
    )
    assert created.status_code == 201, created.text
    fetched = await client.get(f"/api/v1/devices/{created.json()['id']}", headers=alice.headers)
    assert fetched.json()["name"] == SQL
    assert fetched.json()["labels"] == {"room": "a' OR '1'='1"}


async def test_unknown_routes_and_methods_are_problems(
    client: httpx.AsyncClient, alice: Account
) -> None:
    for method, path, status in (
        ("GET", "/api/v1/nope", 404),
        ("GET", "/admin", 404),
        ("PUT", "/api/v1/me", 405),
        ("GET", "/api/v1/devices/not-a-uuid", 404),
    ):
        response = await client.request(method, path, headers=alice.headers)
        assert response.status_code == status, (method, path, response.status_code)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_oversized_chunked_body_is_413(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(64):
            yield b"a" * 16384
        yield b'"}'

    before = await _counts(ctx)
    response = await client.post(
        "/api/v1/devices",
        content=chunks(),
        headers={**alice.headers, "content-type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert await _counts(ctx) == before

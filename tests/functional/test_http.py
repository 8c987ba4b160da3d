"""Cross-cutting HTTP behaviour: headers, CORS, health, API description, logs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from iotwarden.app import create_app
from iotwarden.config import Settings
from iotwarden.context import AppContext
from iotwarden.logs import JSONFormatter
from tests.conftest import PASSWORD, Account, make_device


async def test_security_headers_on_every_kind_of_answer(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get("/healthz"),
        await client.get("/nowhere"),
        await client.get("/api/v1/me"),
        await client.post(
            "/api/v1/auth/login", content=b"{", headers={"content-type": "application/json"}
        ),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert "no-store" in response.headers["cache-control"]
        assert "server" not in {k.lower() for k in response.headers if k.lower() == "x-powered-by"}


async def test_health_and_openapi_are_public(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    spec = (await client.get("/openapi.json")).json()
    assert "/api/v1/devices/{device_id}/telemetry" in spec["paths"]
    assert (await client.get("/docs")).status_code == 404


async def test_no_cross_origin_access_by_default(client: httpx.AsyncClient) -> None:
    response = await client.options(
        "/api/v1/me",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in response.headers


@pytest.fixture
async def cors_client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(data_dir=tmp_path / "cors", cors_origins=("https://app.example",))
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        yield http
    await app.state.ctx.engine.dispose()


async def test_only_the_exact_configured_origin_is_allowed(cors_client: httpx.AsyncClient) -> None:
    preflight = {"Access-Control-Request-Method": "GET"}
    ok = await cors_client.options(
        "/healthz", headers={"Origin": "https://app.example", **preflight}
    )
    assert ok.headers["access-control-allow-origin"] == "https://app.example"
    for origin in ("https://app.example.evil", "http://app.example", "null"):
        denied = await cors_client.options("/healthz", headers={"Origin": origin, **preflight})
        assert "access-control-allow-origin" not in denied.headers


def test_wildcard_origin_is_refused_in_settings(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exact"):
        Settings(data_dir=tmp_path, cors_origins=("*",))


async def test_logs_never_contain_credentials(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    device = await make_device(ctx, client, alice)
    refreshed = await client.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": alice.refresh_token}
    )
    await client.post("/api/v1/auth/login", json={"email": alice.email, "password": "wrong" * 4})
    audio = b"RIFF-secret-voice-content"
    await client.post(
        f"/api/v1/devices/{device.id}/recordings",
        content=audio,
        headers={**device.headers, "content-type": "audio/wav"},
    )
    formatter = JSONFormatter()
    text = "\n".join(formatter.format(record) for record in caplog.records)
    assert '"route"' in text  # the access log did run
    for secret in (
        PASSWORD,
        "wrong" * 4,
        alice.access_token,
        alice.refresh_token,
        refreshed.json()["refresh_token"],
        device.secret,
        device.access_token,
        "secret-voice",
    ):
        assert secret not in text

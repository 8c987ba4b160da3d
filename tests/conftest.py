"""Fixtures that drive the whole app over ASGI, with real storage and no mocks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from iotwarden.accounts import services
from iotwarden.accounts.models import User
from iotwarden.app import create_app
from iotwarden.config import Settings
from iotwarden.context import AppContext
from iotwarden.db.migrate import upgrade
from iotwarden.devices.credentials import new_secret
from iotwarden.devices.models import Device
from iotwarden.telemetry.writer import writer_of

PASSWORD = "correct horse battery staple 42"


@dataclass
class Account:
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    ctx: AppContext = application.state.ctx
    await upgrade(ctx.engine)
    yield application
    await writer_of(application).close()
    await ctx.state.close()
    await ctx.engine.dispose()


@pytest.fixture
def ctx(app: FastAPI) -> AppContext:
    context: AppContext = app.state.ctx
    return context


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        yield http


async def make_account(
    ctx: AppContext, client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> Account:
    async with ctx.sessions() as db:
        await services.create_user(db, email, password)
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    body = response.json()
    return Account(email, password, body["access_token"], body["refresh_token"])


@pytest.fixture
async def alice(ctx: AppContext, client: httpx.AsyncClient) -> Account:
    return await make_account(ctx, client, "alice@example.com")


@pytest.fixture
async def bob(ctx: AppContext, client: httpx.AsyncClient) -> Account:
    return await make_account(ctx, client, "bob@example.com")


@dataclass
class DeviceHandle:
    id: str
    secret: str
    access_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def device_token(client: httpx.AsyncClient, device_id: str, secret: str) -> httpx.Response:
    return await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": device_id, "client_secret": secret},
    )


async def make_device(
    ctx: AppContext, client: httpx.AsyncClient, owner: Account, name: str = "toy"
) -> DeviceHandle:
    """Inserted directly so fixtures do not depend on the device API under test."""
    secret, secret_hash = new_secret()
    async with ctx.sessions() as db:
        owner_id = await db.scalar(select(User.id).where(User.email == owner.email))
        assert owner_id is not None
        device = Device(owner_id=owner_id, name=name, secret_hash=secret_hash)
        db.add(device)
        await db.commit()
        device_id = str(device.id)
    response = await device_token(client, device_id, secret)
    assert response.status_code == 200, response.text
    return DeviceHandle(device_id, secret, response.json()["access_token"])

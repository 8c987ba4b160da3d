"""CloudPets, replayed: every route, every bad credential, every object of the other user.

In 2017 CloudPets exposed children's voice recordings through an API that checked neither who
was asking nor whether the recording was theirs. Here two households each own a toy with
recordings; the attacker tries every route of the app (read from the live route table) with
no token, broken tokens, forged tokens and the other household's user and device tokens,
against the victim's object ids. Not one answer may reveal or change the victim's data.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import OKPKey

from iotwarden.auth.route import GuardedRoute, route_method
from iotwarden.context import AppContext
from tests.conftest import Account, DeviceHandle, make_account, make_device

AUDIO = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"child-voice-sample" * 8


@dataclass
class Household:
    account: Account
    device: DeviceHandle
    ids: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)


async def _household(ctx: AppContext, client: httpx.AsyncClient, email: str) -> Household:
    account = await make_account(ctx, client, email)
    device = await make_device(ctx, client, account, name=f"teddy of {email}")
    home = Household(account, device, {"device_id": device.id})
    dev = f"/api/v1/devices/{device.id}"
    now_ms = int(time.time() * 1000)
    readings = [{"ts": now_ms - i * 1000, "metric": "temp.c", "value": 20.5} for i in range(5)]
    ok = await client.post(f"{dev}/telemetry", json={"readings": readings}, headers=device.headers)
    assert ok.status_code == 201, ok.text
    rec = await client.post(
        f"{dev}/recordings", content=AUDIO, headers={**device.headers, "content-type": "audio/wav"}
    )
    assert rec.status_code == 201, rec.text
    home.ids["recording_id"] = rec.json()["id"]
    cmd = await client.post(f"{dev}/commands", json={"name": "play"}, headers=account.headers)
    assert cmd.status_code == 201, cmd.text
    home.ids["command_id"] = cmd.json()["id"]
    share = await client.post(
        f"{dev}/shares",
        json={"email": f"grandma.{email}", "role": "viewer"},
        headers=account.headers,
    )
    assert share.status_code in (200, 201), share.text
    home.ids["share_id"] = share.json()["id"]
    sessions = await client.get("/api/v1/sessions", headers=account.headers)
    home.ids["session_id"] = sessions.json()["items"][0]["id"]
    url = await client.post(
        f"{dev}/recordings/{home.ids['recording_id']}/download-url", headers=account.headers
    )
    assert url.status_code == 200, url.text
    home.ids["grant"] = url.json()["url"].rstrip("/").rsplit("/", 1)[-1]
    home.secrets = [device.secret, account.refresh_token, account.access_token, device.access_token]
    return home


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _bad_credentials(ctx: AppContext, victim: Household) -> dict[str, dict[str, str]]:
    """Tokens that claim to be the victim but must not work."""
    payload = victim.account.access_token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    now = int(time.time())
    expired = {**claims, "iat": now - 4000, "exp": now - 3000}
    own_key = ctx.keys.signing
    header = {"alg": "Ed25519", "typ": "at+jwt"}
    other_key = OKPKey.generate_key("Ed25519")
    none_token = _b64({"alg": "none", "typ": "at+jwt"}) + "." + _b64(claims) + "."
    return {
        "no token": {},
        "malformed": {"Authorization": "Bearer not.a.jwt"},
        "wrong scheme": {"Authorization": f"Basic {victim.account.access_token}"},
        "other key": {
            "Authorization": "Bearer "
            + jwt.encode(header, claims, other_key, algorithms=["Ed25519"])
        },
        "alg none": {"Authorization": f"Bearer {none_token}"},
        "expired": {
            "Authorization": "Bearer "
            + jwt.encode(header, expired, own_key, algorithms=["Ed25519"])
        },
    }


_BODIES: list[tuple[str, dict[str, Any]]] = [
    ("/telemetry", {"json": {"readings": [{"ts": 1_700_000_000_000, "metric": "x", "value": 1}]}}),
    ("/recordings", {"content": b"RIFFevil", "headers": {"content-type": "audio/wav"}}),
    ("/commands", {"json": {"name": "unlock"}}),
    ("/ack", {"json": {"status": "succeeded", "result": {}}}),
    ("/shares", {"json": {"email": "attacker@example.com", "role": "operator"}}),
    ("/oauth/token", {"data": {"grant_type": "client_credentials", "client_id": "x"}}),
    ("/password", {"json": {"current_password": "guess" * 4, "new_password": "pwned" * 4}}),
    ("/login", {"json": {"email": "alice@example.com", "password": "guess" * 4}}),
]


def _bodies(route_path: str, method: str) -> dict[str, Any]:
    """A plausible body, so a request that got past authorization would really act."""
    if method in ("GET", "DELETE"):
        return {}
    for suffix, body in _BODIES:
        if route_path.endswith(suffix):
            return body
    return {"json": {"name": "pwned"}}


def _url(path: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, f"no victim id for {path}"
    return path


@pytest.fixture
async def households(ctx: AppContext, client: httpx.AsyncClient) -> tuple[Household, Household]:
    victim = await _household(ctx, client, "alice@example.com")
    attacker = await _household(ctx, client, "mallory@example.com")
    return victim, attacker


async def _snapshot(client: httpx.AsyncClient, home: Household) -> dict[str, Any]:
    h, dev = home.account.headers, f"/api/v1/devices/{home.device.id}"
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 86400))
    end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    parts = {
        "device": await client.get(dev, headers=h),
        "recordings": await client.get(f"{dev}/recordings", headers=h),
        "commands": await client.get(f"{dev}/commands", headers=h),
        "shares": await client.get(f"{dev}/shares", headers=h),
        "telemetry": await client.get(
            f"{dev}/telemetry", params={"metric": "temp.c", "start": start, "end": end}, headers=h
        ),
    }
    for name, response in parts.items():
        assert response.status_code == 200, (name, response.text)
    snap = {name: response.json() for name, response in parts.items()}
    snap["device"].pop("updated_at", None)
    return snap


async def test_no_route_reveals_or_changes_the_other_households_data(
    app: FastAPI,
    ctx: AppContext,
    client: httpx.AsyncClient,
    households: tuple[Household, Household],
) -> None:
    victim, attacker = households
    before = await _snapshot(client, victim)
    credentials = _bad_credentials(ctx, victim)
    credentials["other device"] = attacker.device.headers
    routes = [r for r in app.routes if isinstance(r, GuardedRoute)]
    assert len(routes) >= 30
    victim_markers = {victim.account.email, *victim.ids.values(), *victim.secrets, "child-voice"}
    victim_markers.discard(victim.ids["device_id"])  # checked separately below: it is in the URL
    tried = 0
    for route in routes:
        method = route_method(route)
        url = _url(route.path, victim.ids)
        kwargs = _bodies(route.path, method)
        user_headers = await _fresh_login(client, attacker)
        for label, headers in {**credentials, "other user": user_headers}.items():
            merged = {**kwargs.get("headers", {}), **headers}
            response = await client.request(
                method, url, **{k: v for k, v in kwargs.items() if k != "headers"}, headers=merged
            )
            tried += 1
            _assert_refused(route.path, label, response, victim_markers)
    assert tried >= 30 * 8
    assert await _snapshot(client, victim) == before
    # The victim's own download link still works: the attacker could not even burn it.
    download = await client.get(
        f"/api/v1/recordings/download/{victim.ids['grant']}", headers=victim.account.headers
    )
    assert download.status_code == 200
    assert download.content == AUDIO


async def _fresh_login(client: httpx.AsyncClient, home: Household) -> dict[str, str]:
    # Fresh each route: the attacker's own logout must not turn later probes into easy 401s.
    response = await client.post(
        "/api/v1/auth/login",
        json={"email": home.account.email, "password": home.account.password},
    )
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


_PUBLIC = {"/healthz", "/openapi.json", "/api/v1/auth/login", "/oauth/token"}
_OWN_SCOPE = {"/api/v1/me", "/api/v1/sessions", "/api/v1/devices", "/api/v1/auth/logout"}


def _assert_refused(path: str, label: str, response: httpx.Response, markers: set[str]) -> None:
    where = f"{response.request.method} {path} with {label}: {response.status_code}"
    assert response.status_code < 500, where
    for marker in markers:
        assert marker not in response.text, f"{where} leaked {marker[:12]}…"
    if path in _PUBLIC or (label == "other user" and path in _OWN_SCOPE):
        return  # answers about the caller itself, checked for leaks above
    expected = {401} if label not in ("other user", "other device") else {403, 404}
    if path == "/api/v1/me/password" and label == "other user":
        expected = {403}  # the attacker's own account, with a wrong current password
    assert response.status_code in expected, where
    if response.status_code != 204:
        assert response.headers["content-type"] == "application/problem+json", where

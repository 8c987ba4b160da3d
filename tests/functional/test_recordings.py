"""Recordings, the CloudPets asset: device uploads, owner-only reads, single-use bound grants."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import stat
import string
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest
from sqlalchemy import delete, func, select, update

from iotwarden.accounts.models import User
from iotwarden.config import Settings
from iotwarden.context import AppContext
from iotwarden.devices.models import Device
from iotwarden.recordings import grants
from iotwarden.recordings.blobs import MAX_RECORDING_BYTES_CEILING, BlobStore
from iotwarden.recordings.models import Recording, RecordingAccess
from iotwarden.recordings.services import sweep_orphans
from tests.conftest import Account, DeviceHandle, make_account, make_device

_B64 = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
AUDIO = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"child-voice-sample" * 64


async def _upload(
    client: httpx.AsyncClient,
    device: DeviceHandle,
    content: bytes | AsyncIterator[bytes] = AUDIO,
    content_type: str | None = "audio/wav",
    device_id: str | None = None,
) -> httpx.Response:
    headers = dict(device.headers)
    if content_type is not None:
        headers["content-type"] = content_type
    return await client.post(
        f"/api/v1/devices/{device_id or device.id}/recordings", content=content, headers=headers
    )


async def _uploaded(client: httpx.AsyncClient, device: DeviceHandle) -> str:
    response = await _upload(client, device)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _url(
    client: httpx.AsyncClient, account: Account, device: DeviceHandle, recording_id: str
) -> httpx.Response:
    return await client.post(
        f"/api/v1/devices/{device.id}/recordings/{recording_id}/download-url",
        headers=account.headers,
    )


async def _grant(
    client: httpx.AsyncClient, account: Account, device: DeviceHandle, recording_id: str
) -> str:
    response = await _url(client, account, device, recording_id)
    assert response.status_code == 200, response.text
    url = str(response.json()["url"])
    prefix = "/api/v1/recordings/download/"
    assert url.startswith(prefix)
    return url.removeprefix(prefix)


async def _download(client: httpx.AsyncClient, account: Account, grant: str) -> httpx.Response:
    return await client.get(f"/api/v1/recordings/download/{grant}", headers=account.headers)


async def _share(
    client: httpx.AsyncClient, owner: Account, device: DeviceHandle, email: str, role: str
) -> None:
    response = await client.post(
        f"/api/v1/devices/{device.id}/shares",
        json={"email": email, "role": role},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text


async def _user_id(ctx: AppContext, account: Account) -> uuid.UUID:
    async with ctx.sessions() as db:
        user_id = await db.scalar(select(User.id).where(User.email == account.email))
    assert user_id is not None
    return user_id


def _stored_files(ctx: AppContext) -> list[str]:
    if not ctx.blob_dir.exists():
        return []
    return sorted(path.name for path in ctx.blob_dir.iterdir())


async def _recording_count(ctx: AppContext) -> int:
    async with ctx.sessions() as db:
        return int(await db.scalar(select(func.count()).select_from(Recording)) or 0)


def _assert_not_found(response: httpx.Response) -> None:
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "urn:iotwarden:problem:not-found",
        "title": "Not found",
        "status": 404,
    }


async def test_upload_list_download_once_and_audit(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account
) -> None:
    device = await make_device(ctx, client, alice)
    response = await _upload(client, device, content_type="Audio/WAV; codecs=1")
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "content_type", "size_bytes", "sha256", "created_at"}
    assert body["content_type"] == "audio/wav"
    assert body["size_bytes"] == len(AUDIO)
    assert body["sha256"] == hashlib.sha256(AUDIO).hexdigest()

    # One 0600 file with a random name, in a 0700 directory; nothing half-written beside it.
    [name] = _stored_files(ctx)
    assert len(name) == 32
    assert int(name, 16) >= 0
    assert stat.S_IMODE(ctx.blob_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((ctx.blob_dir / name).stat().st_mode) == 0o600
    assert (ctx.blob_dir / name).read_bytes() == AUDIO

    listing = await client.get(f"/api/v1/devices/{device.id}/recordings", headers=alice.headers)
    assert listing.status_code == 200
    assert listing.json() == {"items": [body], "next_cursor": None}

    url = await _url(client, alice, device, body["id"])
    assert url.status_code == 200
    assert url.headers["cache-control"] == "no-store"
    assert set(url.json()) == {"url", "expires_at"}
    expires_at = datetime.fromisoformat(url.json()["expires_at"]).timestamp()
    assert abs(expires_at - (time.time() + ctx.settings.download_url_ttl)) < 5
    grant = url.json()["url"].rsplit("/", 1)[-1]

    download = await _download(client, alice, grant)
    assert download.status_code == 200
    assert download.content == AUDIO
    assert download.headers["content-type"] == "audio/wav"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["cache-control"] == "no-store"

    _assert_not_found(await _download(client, alice, grant))

    accesses = await client.get(
        f"/api/v1/devices/{device.id}/recordings/{body['id']}/accesses", headers=alice.headers
    )
    assert accesses.status_code == 200
    items = accesses.json()["items"]
    assert all(set(item) == {"id", "action", "actor", "at"} for item in items)
    alice_id = await _user_id(ctx, alice)
    # Newest first.
    assert [(item["action"], item["actor"]) for item in items] == [
        ("download", f"user:{alice_id}"),
        ("url", f"user:{alice_id}"),
        ("upload", f"device:{device.id}"),
    ]


async def test_expired_grant_is_refused(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account
) -> None:
    device = await make_device(ctx, client, alice)
    recording_id = uuid.UUID(await _uploaded(client, device))
    alice_id = await _user_id(ctx, alice)
    past = grants.Grant(recording_id, alice_id, int(time.time()) - 1, secrets.token_hex(16))
    _assert_not_found(await _download(client, alice, grants.sign(ctx.keys.secret, past)))
    # The same grant, unexpired, works: the refusal above was the expiry alone.
    fresh = grants.Grant(recording_id, alice_id, int(time.time()) + 60, past.nonce)
    assert (await _download(client, alice, grants.sign(ctx.keys.secret, fresh))).status_code == 200


async def test_grant_presented_by_another_user_is_refused_and_not_burnt(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    device = await make_device(ctx, client, alice)
    grant = await _grant(client, alice, device, await _uploaded(client, device))
    _assert_not_found(await _download(client, bob, grant))
    assert (await client.get(f"/api/v1/recordings/download/{grant}")).status_code == 401
    assert (await _download(client, alice, grant)).content == AUDIO


async def test_tampered_or_forged_grants_are_refused(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account
) -> None:
    device = await make_device(ctx, client, alice)
    recording_id = await _uploaded(client, device)
    grant = await _grant(client, alice, device, recording_id)

    def flip(index: int) -> str:
        swapped = "A" if grant[index] != "A" else "B"
        return grant[:index] + swapped + grant[index + 1 :]

    alice_id = await _user_id(ctx, alice)
    other_key = grants.Grant(
        uuid.UUID(recording_id), alice_id, int(time.time()) + 60, secrets.token_hex(16)
    )
    forged = [
        flip(0),  # recording id
        flip(30),  # user id
        flip(50),  # expiry
        flip(70),  # nonce
        flip(len(grant) - 2),  # signature
        grant[:-1],
        grant + "A",
        grant + "==",
        grant[:-1] + _B64[_B64.index(grant[-1]) ^ 1],  # same bytes: only unused bits differ
        "x" * 500,
        "%2e%2e",
        grants.sign(secrets.token_bytes(48), other_key),
    ]
    for candidate in forged:
        _assert_not_found(await _download(client, alice, candidate))
    assert (await _download(client, alice, grant)).content == AUDIO


async def test_ownership_is_checked_again_at_download(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    device = await make_device(ctx, client, alice)
    recording_id = await _uploaded(client, device)
    grant = await _grant(client, alice, device, recording_id)
    async with ctx.sessions() as db:
        await db.execute(
            update(Device)
            .where(Device.id == uuid.UUID(device.id))
            .values(owner_id=await _user_id(ctx, bob))
        )
        await db.commit()
    _assert_not_found(await _download(client, alice, grant))
    # The new owner cannot use the grant either: it was issued to alice, not to the device.
    _assert_not_found(await _download(client, bob, grant))
    fresh = await _grant(client, bob, device, recording_id)
    assert (await _download(client, bob, fresh)).content == AUDIO


async def test_recording_of_another_device_is_not_found(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account
) -> None:
    first = await make_device(ctx, client, alice, name="first")
    second = await make_device(ctx, client, alice, name="second")
    recording_id = await _uploaded(client, first)
    _assert_not_found(await _url(client, alice, second, recording_id))
    accesses = await client.get(
        f"/api/v1/devices/{second.id}/recordings/{recording_id}/accesses", headers=alice.headers
    )
    _assert_not_found(accesses)
    listing = await client.get(f"/api/v1/devices/{second.id}/recordings", headers=alice.headers)
    assert listing.json()["items"] == []
    _assert_not_found(await _url(client, alice, first, str(uuid.uuid4())))


@pytest.mark.parametrize(
    "content_type", ["text/html", "application/json", "application/octet-stream", "audio", None]
)
async def test_only_audio_is_accepted(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, content_type: str | None
) -> None:
    device = await make_device(ctx, client, alice)
    response = await _upload(client, device, content_type=content_type)
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
    assert _stored_files(ctx) == []
    assert await _recording_count(ctx) == 0


async def _chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        chunk = b"\x01" * min(size, total - sent)
        sent += len(chunk)
        yield chunk


async def test_oversized_upload_is_refused_and_leaves_nothing(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account
) -> None:
    device = await make_device(ctx, client, alice)
    limit = ctx.settings.max_recording_bytes
    declared = await _upload(client, device, content=b"\x01" * (limit + 1))
    streamed = await _upload(client, device, content=_chunks(limit + 1))
    for response in (declared, streamed):
        assert response.status_code == 413, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "urn:iotwarden:problem:payload-too-large"
    assert _stored_files(ctx) == []
    assert await _recording_count(ctx) == 0


async def test_recordings_may_exceed_the_json_body_limit_up_to_their_own(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account
) -> None:
    device = await make_device(ctx, client, alice)
    limit = ctx.settings.max_recording_bytes
    assert limit > ctx.settings.max_json_body
    exact = await _upload(client, device, content=_chunks(limit))
    assert exact.status_code == 201, exact.text
    assert exact.json()["size_bytes"] == limit
    assert len(_stored_files(ctx)) == 1


def test_route_body_limit_matches_the_settings_maximum() -> None:
    schema = Settings.model_json_schema()["properties"]["max_recording_bytes"]
    assert schema["maximum"] == MAX_RECORDING_BYTES_CEILING


async def test_empty_upload_is_refused(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account
) -> None:
    device = await make_device(ctx, client, alice)
    response = await _upload(client, device, content=b"")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert _stored_files(ctx) == []
    assert await _recording_count(ctx) == 0


async def test_failed_insert_leaves_no_file(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account
) -> None:
    device = await make_device(ctx, client, alice)
    async with ctx.sessions() as db:
        # Gone behind its still-valid token: the row cannot be written, so the file must go.
        await db.execute(delete(Device).where(Device.id == uuid.UUID(device.id)))
        await db.commit()
    _assert_not_found(await _upload(client, device))
    assert _stored_files(ctx) == []
    assert await _recording_count(ctx) == 0


async def test_only_the_device_itself_uploads(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account
) -> None:
    device = await make_device(ctx, client, alice, name="victim")
    other = await make_device(ctx, client, alice, name="other")
    _assert_not_found(await _upload(client, other, device_id=device.id))
    as_owner = await client.post(
        f"/api/v1/devices/{device.id}/recordings",
        content=AUDIO,
        headers={**alice.headers, "content-type": "audio/wav"},
    )
    _assert_not_found(as_owner)
    assert _stored_files(ctx) == []
    assert await _recording_count(ctx) == 0


async def test_a_device_cannot_read_recordings_back(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account
) -> None:
    device = await make_device(ctx, client, alice)
    recording_id = await _uploaded(client, device)
    base = f"/api/v1/devices/{device.id}/recordings"
    _assert_not_found(await client.get(base, headers=device.headers))
    _assert_not_found(
        await client.post(f"{base}/{recording_id}/download-url", headers=device.headers)
    )
    grant = await _grant(client, alice, device, recording_id)
    refused = await client.get(f"/api/v1/recordings/download/{grant}", headers=device.headers)
    assert refused.status_code == 403


@pytest.mark.parametrize("role", ["viewer", "operator"])
async def test_shared_users_never_reach_recordings(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, role: str
) -> None:
    guest = await make_account(ctx, client, "guest@example.com")
    device = await make_device(ctx, client, alice)
    recording_id = await _uploaded(client, device)
    await _share(client, alice, device, guest.email, role)
    base = f"/api/v1/devices/{device.id}/recordings"
    assert (await client.get(base, headers=guest.headers)).status_code == 403
    assert (await _url(client, guest, device, recording_id)).status_code == 403
    audit = await client.get(f"{base}/{recording_id}/accesses", headers=guest.headers)
    assert audit.status_code == 403
    grant = await _grant(client, alice, device, recording_id)
    _assert_not_found(await _download(client, guest, grant))


async def test_strangers_get_not_found_everywhere(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    device = await make_device(ctx, client, alice)
    recording_id = await _uploaded(client, device)
    base = f"/api/v1/devices/{device.id}/recordings"
    _assert_not_found(await client.get(base, headers=bob.headers))
    _assert_not_found(await _url(client, bob, device, recording_id))
    _assert_not_found(await client.get(f"{base}/{recording_id}/accesses", headers=bob.headers))
    grant = await _grant(client, alice, device, recording_id)
    _assert_not_found(await _download(client, bob, grant))
    for path in (base, f"{base}/{recording_id}/accesses"):
        assert (await client.get(path)).status_code == 401


async def test_listing_pages_and_is_audited(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account
) -> None:
    device = await make_device(ctx, client, alice)
    ids = [await _uploaded(client, device) for _ in range(3)]
    base = f"/api/v1/devices/{device.id}/recordings"
    first = (await client.get(base, params={"limit": 2}, headers=alice.headers)).json()
    assert first["next_cursor"]
    params = {"limit": 2, "cursor": first["next_cursor"]}
    second = (await client.get(base, params=params, headers=alice.headers)).json()
    assert second["next_cursor"] is None
    assert [item["id"] for item in first["items"] + second["items"]] == ids[::-1]
    async with ctx.sessions() as db:
        listed = (
            await db.scalars(select(RecordingAccess).where(RecordingAccess.action == "list"))
        ).all()
    assert len(listed) == 2
    assert {(row.recording_id, str(row.device_id)) for row in listed} == {(None, device.id)}
    assert {row.actor for row in listed} == {f"user:{await _user_id(ctx, alice)}"}


async def test_logs_never_hold_grants_or_audio(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    device = await make_device(ctx, client, alice)
    grant = await _grant(client, alice, device, await _uploaded(client, device))
    assert (await _download(client, alice, grant)).status_code == 200
    _assert_not_found(await _download(client, alice, grant))
    assert any(record.name == "iotwarden.access" for record in caplog.records)
    # httpx is the test's own client, on the other side of the wire: it logs the URL it asked.
    server_side = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    for record in server_side:
        text = record.getMessage() + repr(vars(record))
        assert grant not in text
        assert grant[:40] not in text
        assert "child-voice" not in text


async def test_sweep_deletes_only_old_files_no_recording_names(
    ctx: AppContext, client: httpx.AsyncClient, alice: Account
) -> None:
    await _uploaded(client, await make_device(ctx, client, alice))
    [kept] = _stored_files(ctx)
    now = time.time()
    day_ago = now - 86_400 - 60
    files = {
        "orphan": secrets.token_hex(16),  # stored, then the process died before its row
        "recent orphan": secrets.token_hex(16),  # its row may be committing right now
        "partial": f".{secrets.token_hex(16)}.part",  # an upload that never finished
        "recent partial": f".{secrets.token_hex(16)}.part",  # one that is still streaming
        "foreign": "notes.txt",  # not ours to delete
    }
    for label, name in files.items():
        (ctx.blob_dir / name).write_bytes(b"x")
        if not label.startswith("recent"):
            os.utime(ctx.blob_dir / name, (day_ago, day_ago))
    os.utime(ctx.blob_dir / kept, (day_ago, day_ago))
    async with ctx.sessions() as db:
        removed = await sweep_orphans(db, BlobStore(ctx.blob_dir), now)
    assert removed == 2
    left = set(_stored_files(ctx))
    assert left == {kept, *(files[k] for k in ("recent orphan", "recent partial", "foreign"))}
    async with ctx.sessions() as db:
        assert await sweep_orphans(db, BlobStore(ctx.blob_dir), now) == 0

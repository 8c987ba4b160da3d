"""Devices: registration, listing, changes, and the credential life cycle.

Every change that ends a credential (rotation, disabling, deletion) commits first, then
revokes the old ``credential_id`` so the device tokens already out there die at once.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from iotwarden.accounts.models import User
from iotwarden.auth.revocation import revoke
from iotwarden.context import AppContext
from iotwarden.db.base import utcnow
from iotwarden.devices.credentials import new_secret
from iotwarden.devices.models import Device
from iotwarden.devices.schemas import DeviceCreate, DeviceUpdate
from iotwarden.http.pagination import PageParams, keyset, page_of
from iotwarden.recordings.blobs import BlobStore
from iotwarden.recordings.models import Recording
from iotwarden.sharing.models import Share

log = logging.getLogger("iotwarden.devices")


async def register(db: AsyncSession, owner_id: uuid.UUID, body: DeviceCreate) -> tuple[Device, str]:
    """The new device and its secret: the caller shows the secret once, only its hash stays."""
    secret, secret_hash = new_secret()
    device = Device(owner_id=owner_id, secret_hash=secret_hash, **body.model_dump())
    db.add(device)
    await db.commit()
    return device, secret


async def list_visible(
    db: AsyncSession, user_id: uuid.UUID, page: PageParams
) -> tuple[list[tuple[Device, str]], str | None]:
    """Devices the user owns or holds an unexpired share on, newest first, with the role."""
    email = select(User.email).where(User.id == user_id).scalar_subquery()
    live_share = and_(
        Share.device_id == Device.id,
        Share.grantee_email == email,
        or_(Share.expires_at.is_(None), Share.expires_at > utcnow()),
    )
    # (device_id, grantee_email) is unique: at most one share row joins each device.
    stmt = (
        select(Device, Share.role)
        .outerjoin(Share, live_share)
        .where(or_(Device.owner_id == user_id, Share.id.is_not(None)))
    )
    rows = (await db.execute(keyset(stmt, page, Device.created_at, Device.id))).all()
    devices, cursor = page_of([device for device, _ in rows], page)
    # ``devices`` is a prefix of ``rows``: zip stops where the page does.
    items = [
        (device, "owner" if device.owner_id == user_id else str(role))
        for device, (_, role) in zip(devices, rows, strict=False)
    ]
    return items, cursor


async def lock(db: AsyncSession, device_id: uuid.UUID) -> Device | None:
    """Load a device to change it; concurrent changes and deletion wait (PostgreSQL)."""
    stmt = select(Device).where(Device.id == device_id).with_for_update()
    device: Device | None = await db.scalar(stmt)
    return device


async def update(db: AsyncSession, device: Device, body: DeviceUpdate) -> None:
    for field, value in body.changes().items():
        setattr(device, field, value)
    device.updated_at = utcnow()
    await db.commit()


async def rotate_secret(db: AsyncSession, ctx: AppContext, device: Device) -> str:
    """A new secret under a new credential: the old secret and its tokens stop working."""
    old = device.credential_id
    secret, device.secret_hash = new_secret()
    device.credential_id = uuid.uuid4()
    device.updated_at = utcnow()
    await db.commit()
    await _revoke(ctx, old)
    return secret


async def set_disabled(db: AsyncSession, ctx: AppContext, device: Device, disabled: bool) -> None:
    if disabled == (device.disabled_at is not None):
        return
    old = device.credential_id
    device.disabled_at = utcnow() if disabled else None
    if disabled:
        # A fresh credential, so tokens minted after enabling are not caught by this revocation.
        device.credential_id = uuid.uuid4()
    device.updated_at = utcnow()
    await db.commit()
    if disabled:
        await _revoke(ctx, old)


async def remove(db: AsyncSession, ctx: AppContext, device: Device) -> None:
    """Delete the device (its rows go by FK cascade), kill its tokens, then its audio files."""
    # Recordings first, by hand, to learn their files; the device row is locked (see ``lock``)
    # so no upload can add one between this and the device's own deletion.
    files = await db.scalars(
        delete(Recording).where(Recording.device_id == device.id).returning(Recording.storage_name)
    )
    names = list(files)
    await db.execute(delete(Device).where(Device.id == device.id))
    await db.commit()
    await _revoke(ctx, device.credential_id)
    await asyncio.to_thread(_delete_files, BlobStore(ctx.blob_dir), names)


async def _revoke(ctx: AppContext, credential_id: uuid.UUID) -> None:
    # Long enough to outlive any device token minted under this credential.
    await revoke(ctx.state, credential_id, ttl=ctx.settings.device_token_ttl + 60)


def _delete_files(store: BlobStore, names: Sequence[str]) -> None:
    """Best effort: the rows are gone already, a file left behind is logged, not raised."""
    for name in names:
        try:
            store.delete(name)
        except (ValueError, OSError) as exc:
            log.warning("recording file not deleted", extra={"error": type(exc).__name__})

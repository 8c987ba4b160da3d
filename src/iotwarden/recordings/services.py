"""Recordings, the CloudPets asset: stored whole or not at all, read by the owner alone through
single-use grants, and every touch written to the audit trail.

Every way a download can fail answers the same 404, so a caller learns nothing about why.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from anyio import to_thread
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from iotwarden.context import AppContext
from iotwarden.devices.models import Device
from iotwarden.http.pagination import PageParams, keyset, page_of
from iotwarden.http.problems import BadRequest, NotFound, PayloadTooLarge
from iotwarden.recordings import grants
from iotwarden.recordings.blobs import BlobStore, BlobTooLargeError, EmptyBlobError
from iotwarden.recordings.models import Recording, RecordingAccess
from iotwarden.recordings.schemas import DownloadUrlOut

DOWNLOAD_PATH = "/api/v1/recordings/download/"
_SPENT_PREFIX = "dl:"
# A stored file gets its row a moment after it is renamed into place, while an upload may
# stream for a long time: files younger than these may belong to an upload in progress, here
# or in another instance sharing the directory.
ORPHAN_GRACE = timedelta(hours=1)
PARTIAL_GRACE = timedelta(hours=24)
_NAMES_PER_QUERY = 500


class Action(StrEnum):
    UPLOAD = "upload"
    LIST = "list"
    URL = "url"
    DOWNLOAD = "download"


def user_actor(user_id: uuid.UUID) -> str:
    return f"user:{user_id}"


def device_actor(device_id: uuid.UUID) -> str:
    return f"device:{device_id}"


def too_large(ctx: AppContext) -> PayloadTooLarge:
    return PayloadTooLarge(f"a recording is at most {ctx.settings.max_recording_bytes} bytes")


def blob_store(ctx: AppContext) -> BlobStore:
    return BlobStore(ctx.blob_dir)


def _audit(
    db: AsyncSession,
    device_id: uuid.UUID,
    recording_id: uuid.UUID | None,
    actor: str,
    action: Action,
) -> None:
    db.add(
        RecordingAccess(recording_id=recording_id, device_id=device_id, actor=actor, action=action)
    )


async def store(
    db: AsyncSession,
    ctx: AppContext,
    device_id: uuid.UUID,
    content_type: str,
    chunks: AsyncIterable[bytes],
) -> Recording:
    blobs = blob_store(ctx)
    try:
        blob = await blobs.save(chunks, ctx.settings.max_recording_bytes)
    except BlobTooLargeError:
        raise too_large(ctx) from None
    except EmptyBlobError:
        raise BadRequest("the recording is empty") from None
    try:
        recording = Recording(
            device_id=device_id,
            content_type=content_type,
            size_bytes=blob.size,
            sha256=blob.sha256,
            storage_name=blob.name,
        )
        db.add(recording)
        await db.flush()
        _audit(db, device_id, recording.id, device_actor(device_id), Action.UPLOAD)
        await db.commit()
    except BaseException as exc:
        blobs.delete(blob.name)
        if isinstance(exc, IntegrityError):
            raise NotFound() from None  # the device was deleted meanwhile
        raise
    return recording


async def sweep_orphans(db: AsyncSession, blobs: BlobStore, now: float) -> int:
    """Delete the files no recording row names, and say how many.

    They are left by a process that died between storing a file and committing its row, or
    while an upload was streaming; the files of a deleted device go with its rows already.
    """
    partials = blobs.partials_before(now - PARTIAL_GRACE.total_seconds())
    for path in partials:
        path.unlink(missing_ok=True)
    names = blobs.stored_before(now - ORPHAN_GRACE.total_seconds())
    orphans: list[str] = []
    for start in range(0, len(names), _NAMES_PER_QUERY):
        chunk = names[start : start + _NAMES_PER_QUERY]
        known = set(
            await db.scalars(
                select(Recording.storage_name).where(Recording.storage_name.in_(chunk))
            )
        )
        orphans += [name for name in chunk if name not in known]
    for name in orphans:
        blobs.delete(name)
    return len(partials) + len(orphans)


async def list_recordings(
    db: AsyncSession, device_id: uuid.UUID, page: PageParams, actor: str
) -> tuple[Sequence[Recording], str | None]:
    stmt = select(Recording).where(Recording.device_id == device_id)
    rows = (await db.scalars(keyset(stmt, page, Recording.created_at, Recording.id))).all()
    _audit(db, device_id, None, actor, Action.LIST)
    await db.commit()
    return page_of(rows, page)


async def _recording_on(
    db: AsyncSession, device_id: uuid.UUID, recording_id: uuid.UUID
) -> Recording:
    recording = await db.scalar(
        select(Recording).where(Recording.id == recording_id, Recording.device_id == device_id)
    )
    if recording is None:
        raise NotFound()
    return recording


async def issue_download_url(
    db: AsyncSession,
    ctx: AppContext,
    device_id: uuid.UUID,
    recording_id: uuid.UUID,
    user_id: uuid.UUID,
) -> DownloadUrlOut:
    recording = await _recording_on(db, device_id, recording_id)
    token, grant = grants.issue(
        ctx.keys.secret, recording.id, user_id, ctx.settings.download_url_ttl
    )
    _audit(db, device_id, recording.id, user_actor(user_id), Action.URL)
    await db.commit()
    return DownloadUrlOut(
        url=DOWNLOAD_PATH + token, expires_at=datetime.fromtimestamp(grant.expires_at, UTC)
    )


async def open_download(
    db: AsyncSession, ctx: AppContext, token: str, user_id: uuid.UUID
) -> tuple[Recording, Path]:
    """The recording a grant names, once: to the user it was issued to, if they still own it."""
    grant = grants.verify(ctx.keys.secret, token, user_id)
    if grant is None:
        raise NotFound()
    recording = await db.scalar(
        select(Recording)
        .join(Device, Device.id == Recording.device_id)
        .where(Recording.id == grant.recording_id, Device.owner_id == user_id)
    )
    if recording is None:
        raise NotFound()
    path = blob_store(ctx).path(recording.storage_name)
    if not await to_thread.run_sync(path.is_file):
        raise NotFound()
    # Spent last, so a refused attempt (another user, a revoked owner) cannot burn the grant.
    if not await ctx.state.add(_SPENT_PREFIX + grant.nonce, "1", max(grant.ttl(), 0) + 1):
        raise NotFound()
    _audit(db, recording.device_id, recording.id, user_actor(user_id), Action.DOWNLOAD)
    await db.commit()
    return recording, path


async def list_accesses(
    db: AsyncSession, device_id: uuid.UUID, recording_id: uuid.UUID, page: PageParams
) -> tuple[Sequence[RecordingAccess], str | None]:
    recording = await _recording_on(db, device_id, recording_id)
    stmt = select(RecordingAccess).where(RecordingAccess.recording_id == recording.id)
    rows = (await db.scalars(keyset(stmt, page, RecordingAccess.at, RecordingAccess.id))).all()
    return page_of(rows, page, time_attr="at")

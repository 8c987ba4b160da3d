from __future__ import annotations

import mimetypes
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from iotwarden.auth.deps import CurrentDevice, CurrentUser, TargetDevice
from iotwarden.auth.route import GuardedRoute
from iotwarden.context import AppCtx, DbSession
from iotwarden.http.pagination import Page, Pagination
from iotwarden.recordings import services
from iotwarden.recordings.blobs import MAX_RECORDING_BYTES_CEILING
from iotwarden.recordings.schemas import AccessOut, DownloadUrlOut, RecordingOut

router = APIRouter(route_class=GuardedRoute, tags=["recordings"])
_DEV = "/api/v1/devices/{device_id}"


@router.post(
    _DEV + "/recordings",
    status_code=201,
    response_model=RecordingOut,
    # Lifts the app's JSON-sized limit for this route only; the configured, smaller
    # ``max_recording_bytes`` is enforced while the body streams to disk.
    max_body_size=MAX_RECORDING_BYTES_CEILING,
)
async def upload_recording(
    request: Request, device: CurrentDevice, db: DbSession, ctx: AppCtx
) -> RecordingOut:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > ctx.settings.max_recording_bytes:
        raise services.too_large(ctx)  # refused before a byte is read
    # The policy admitted only AUDIO_TYPES; keep the bare media type, never client parameters.
    content_type = request.headers["content-type"].split(";")[0].strip().lower()
    recording = await services.store(db, ctx, device.device_id, content_type, request.stream())
    return RecordingOut.model_validate(recording)


@router.get(_DEV + "/recordings", response_model=Page[RecordingOut])
async def list_recordings(
    user: CurrentUser, access: TargetDevice, db: DbSession, page: Pagination
) -> Page[RecordingOut]:
    rows, cursor = await services.list_recordings(
        db, access.device_id, page, services.user_actor(user.user_id)
    )
    return Page(items=[RecordingOut.model_validate(row) for row in rows], next_cursor=cursor)


@router.post(_DEV + "/recordings/{recording_id}/download-url", response_model=DownloadUrlOut)
async def download_url(
    recording_id: uuid.UUID, user: CurrentUser, access: TargetDevice, db: DbSession, ctx: AppCtx
) -> DownloadUrlOut:
    return await services.issue_download_url(db, ctx, access.device_id, recording_id, user.user_id)


@router.get(_DEV + "/recordings/{recording_id}/accesses", response_model=Page[AccessOut])
async def list_accesses(
    recording_id: uuid.UUID, access: TargetDevice, db: DbSession, page: Pagination
) -> Page[AccessOut]:
    rows, cursor = await services.list_accesses(db, access.device_id, recording_id, page)
    return Page(items=[AccessOut.model_validate(row) for row in rows], next_cursor=cursor)


@router.get("/api/v1/recordings/download/{grant}", response_model=None)
async def download(grant: str, user: CurrentUser, db: DbSession, ctx: AppCtx) -> FileResponse:
    # ``grant`` is a plain str on purpose: a malformed one gets the same 404 as any other.
    recording, path = await services.open_download(db, ctx, grant, user.user_id)
    extension = mimetypes.guess_extension(recording.content_type) or ""
    return FileResponse(
        path,
        media_type=recording.content_type,
        filename=f"recording-{recording.id}{extension}",
        content_disposition_type="attachment",
        headers={"Cache-Control": "no-store"},
    )

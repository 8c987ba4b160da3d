from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from iotwarden.auth.deps import CurrentUser, TargetDevice
from iotwarden.auth.route import GuardedRoute
from iotwarden.context import DbSession
from iotwarden.http.pagination import Page, Pagination
from iotwarden.sharing import services
from iotwarden.sharing.schemas import ShareIn, ShareOut

router = APIRouter(route_class=GuardedRoute, tags=["sharing"])
_SHARES = "/api/v1/devices/{device_id}/shares"


@router.post(
    _SHARES,
    response_model=ShareOut,
    status_code=201,
    responses={200: {"description": "An existing share for that email was updated"}},
)
async def put_share(
    body: ShareIn, user: CurrentUser, access: TargetDevice, db: DbSession, response: Response
) -> ShareOut:
    """201 with a new share; 200 when the device was already shared with that email (upsert)."""
    share, created = await services.put_share(db, access.device_id, user.user_id, body)
    if not created:
        response.status_code = 200
    return ShareOut.of(share)


@router.get(_SHARES, response_model=Page[ShareOut])
async def list_shares(access: TargetDevice, db: DbSession, page: Pagination) -> Page[ShareOut]:
    rows, cursor = await services.list_shares(db, access.device_id, page)
    return Page(items=[ShareOut.of(row) for row in rows], next_cursor=cursor)


@router.delete(_SHARES + "/{share_id}", status_code=204)
async def delete_share(share_id: uuid.UUID, access: TargetDevice, db: DbSession) -> None:
    await services.delete_share(db, access.device_id, share_id)

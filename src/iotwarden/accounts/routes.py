from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Response
from sqlalchemy import select

from iotwarden.accounts import services, sessions
from iotwarden.accounts.models import Session, User
from iotwarden.accounts.schemas import LoginIn, PasswordChangeIn, SessionOut, TokenOut, UserOut
from iotwarden.auth.deps import CurrentUser
from iotwarden.auth.passwords import WeakPasswordError
from iotwarden.auth.route import GuardedRoute
from iotwarden.context import AppCtx, DbSession
from iotwarden.db.base import utcnow
from iotwarden.http.pagination import Page, Pagination, keyset, page_of
from iotwarden.http.problems import Forbidden, NotFound, Unauthorized, Unprocessable

router = APIRouter(route_class=GuardedRoute, tags=["accounts"])
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
UserAgent = Annotated[str, Header(max_length=1000)]


@router.post("/api/v1/auth/login", response_model=TokenOut)
async def login(
    body: LoginIn, db: DbSession, ctx: AppCtx, response: Response, user_agent: UserAgent = ""
) -> TokenOut:
    user = await services.authenticate(db, body.email, body.password)
    if user is None:
        raise Unauthorized("invalid email or password")
    pair = await sessions.start_session(db, ctx, user.id, user_agent)
    response.headers.update(NO_STORE)
    return TokenOut(
        access_token=pair.access_token, expires_in=pair.expires_in, refresh_token=pair.refresh_token
    )


@router.post("/api/v1/auth/logout", status_code=204)
async def logout(principal: CurrentUser, db: DbSession, ctx: AppCtx) -> None:
    await sessions.revoke_sessions(db, ctx, [principal.session_id], reason="logout")


@router.get("/api/v1/me", response_model=UserOut)
async def me(principal: CurrentUser, db: DbSession) -> User:
    user = await db.get(User, principal.user_id)
    if user is None:
        raise NotFound()
    return user


@router.post("/api/v1/me/password", status_code=204)
async def change_password(
    body: PasswordChangeIn, principal: CurrentUser, db: DbSession, ctx: AppCtx
) -> None:
    user = await db.get(User, principal.user_id)
    if user is None:
        raise NotFound()
    try:
        await services.change_password(db, ctx, user, body.current_password, body.new_password)
    except services.WrongPasswordError:
        raise Forbidden("current password is wrong") from None
    except WeakPasswordError as exc:
        raise Unprocessable(str(exc)) from None


@router.get("/api/v1/sessions", response_model=Page[SessionOut])
async def list_sessions(
    principal: CurrentUser, db: DbSession, page: Pagination
) -> Page[SessionOut]:
    stmt = select(Session).where(
        Session.user_id == principal.user_id,
        Session.revoked_at.is_(None),
        Session.expires_at > utcnow(),
    )
    rows, cursor = page_of(
        (await db.scalars(keyset(stmt, page, Session.created_at, Session.id))).all(), page
    )
    items = [
        SessionOut.model_validate(row).model_copy(
            update={"current": row.id == principal.session_id}
        )
        for row in rows
    ]
    return Page(items=items, next_cursor=cursor)


@router.delete("/api/v1/sessions/{session_id}", status_code=204)
async def revoke_session(
    session_id: uuid.UUID, principal: CurrentUser, db: DbSession, ctx: AppCtx
) -> None:
    found = await db.scalar(
        select(Session.id).where(Session.id == session_id, Session.user_id == principal.user_id)
    )
    if found is None:
        raise NotFound()
    await sessions.revoke_sessions(db, ctx, [found], reason="user-revoked")

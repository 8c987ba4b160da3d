"""Keyset pagination with a bounded page size and an opaque cursor."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from iotwarden.http.problems import BadRequest

T = TypeVar("T")
# Any select, whatever it returns: one entity or a row of several columns.
S = TypeVar("S", bound=Select[*tuple[Any, ...]])
MAX_PAGE_SIZE = 100


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class PageParams(BaseModel):
    limit: int
    cursor: tuple[datetime, uuid.UUID] | None


async def _page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=decode_cursor(cursor) if cursor else None)


Pagination = Annotated[PageParams, Depends(_page_params)]


def encode_cursor(created_at: datetime, item_id: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(item_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, item_id = json.loads(raw)
        return datetime.fromisoformat(created), uuid.UUID(item_id)
    except (ValueError, TypeError) as exc:
        raise BadRequest("invalid cursor") from exc


def keyset(
    stmt: S,
    params: PageParams,
    created_at: InstrumentedAttribute[datetime],
    item_id: InstrumentedAttribute[uuid.UUID],
) -> S:
    """Newest first; the cursor is the last item of the previous page."""
    if params.cursor is not None:
        after_created, after_id = params.cursor
        stmt = stmt.where(
            or_(created_at < after_created, and_(created_at == after_created, item_id < after_id))
        )
    return stmt.order_by(created_at.desc(), item_id.desc()).limit(params.limit + 1)


def page_of(
    rows: Sequence[Any], params: PageParams, time_attr: str = "created_at"
) -> tuple[Sequence[Any], str | None]:
    """Split the ``limit + 1`` rows fetched by :func:`keyset` into a page and its cursor.

    ``time_attr`` names the attribute given to :func:`keyset` as ``created_at``.
    """
    if len(rows) <= params.limit:
        return rows, None
    rows = rows[: params.limit]
    last = rows[-1]
    return rows, encode_cursor(getattr(last, time_attr), last.id)

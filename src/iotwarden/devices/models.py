from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from iotwarden.db.base import Base, CreatedMixin, IdMixin, utcnow


class Device(IdMixin, CreatedMixin, Base):
    __tablename__ = "devices"

    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(100), default="")
    firmware_version: Mapped[str] = mapped_column(String(64), default="")
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secret_hash: Mapped[str] = mapped_column(String(64))
    # Changes with every secret rotation; device tokens carry it so rotation revokes them.
    credential_id: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

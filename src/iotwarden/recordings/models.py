from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from iotwarden.db.base import Base, CreatedMixin, IdMixin, utcnow


class Recording(IdMixin, CreatedMixin, Base):
    __tablename__ = "recordings"

    device_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), index=True
    )
    content_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    # Random file name under the data dir: never derived from anything a client sent.
    storage_name: Mapped[str] = mapped_column(String(64), unique=True)


class RecordingAccess(IdMixin, Base):
    """Audit trail: who touched which recording, how, and when."""

    __tablename__ = "recording_accesses"

    recording_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("recordings.id", ondelete="SET NULL"), index=True
    )
    device_id: Mapped[uuid.UUID] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(default=utcnow)

"""Every feature's models, imported so ``Base.metadata`` is complete for Alembic."""

from iotwarden.accounts.models import RefreshToken, Session, User
from iotwarden.commands.models import Command
from iotwarden.db.base import Base
from iotwarden.devices.models import Device
from iotwarden.recordings.models import Recording, RecordingAccess
from iotwarden.sharing.models import Share
from iotwarden.telemetry.models import Reading

__all__ = [
    "Base",
    "Command",
    "Device",
    "Reading",
    "Recording",
    "RecordingAccess",
    "RefreshToken",
    "Session",
    "Share",
    "User",
]

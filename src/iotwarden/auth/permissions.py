"""Which principal may hold which permission (the Warehouse pattern).

Absent from a set means denied; there is no wildcard.
"""

from __future__ import annotations

from typing import Final

ACCOUNT_READ: Final = "account:read"
ACCOUNT_WRITE: Final = "account:write"
SESSIONS_READ: Final = "sessions:read"
SESSIONS_REVOKE: Final = "sessions:revoke"
DEVICES_LIST: Final = "devices:list"
DEVICES_CREATE: Final = "devices:create"
DEVICES_READ: Final = "devices:read"
DEVICES_WRITE: Final = "devices:write"
DEVICES_DELETE: Final = "devices:delete"
DEVICES_SECRET_ROTATE: Final = "devices:secret:rotate"
TELEMETRY_WRITE: Final = "devices:telemetry:write"
TELEMETRY_READ: Final = "devices:telemetry:read"
COMMANDS_WRITE: Final = "devices:commands:write"
COMMANDS_READ: Final = "devices:commands:read"
COMMANDS_FETCH: Final = "devices:commands:fetch"
COMMANDS_ACK: Final = "devices:commands:ack"
RECORDINGS_WRITE: Final = "devices:recordings:write"
RECORDINGS_READ: Final = "devices:recordings:read"
RECORDINGS_AUDIT: Final = "devices:recordings:audit"
RECORDINGS_DOWNLOAD: Final = "recordings:download"
SHARES_READ: Final = "devices:shares:read"
SHARES_WRITE: Final = "devices:shares:write"

# What a signed-in user may do on their own account, before any object is involved.
USER: Final = frozenset(
    {
        ACCOUNT_READ,
        ACCOUNT_WRITE,
        SESSIONS_READ,
        SESSIONS_REVOKE,
        DEVICES_LIST,
        DEVICES_CREATE,
        RECORDINGS_DOWNLOAD,
    }
)
# A device acts only as itself: it reports and takes orders, it never reads back data.
DEVICE: Final = frozenset(
    {DEVICES_READ, TELEMETRY_WRITE, COMMANDS_FETCH, COMMANDS_ACK, RECORDINGS_WRITE}
)
VIEWER: Final = frozenset({DEVICES_READ, TELEMETRY_READ})
OPERATOR: Final = VIEWER | {COMMANDS_READ, COMMANDS_WRITE}
OWNER: Final = OPERATOR | {
    DEVICES_WRITE,
    DEVICES_DELETE,
    DEVICES_SECRET_ROTATE,
    RECORDINGS_READ,
    RECORDINGS_AUDIT,
    SHARES_READ,
    SHARES_WRITE,
}
ROLES: Final = {"owner": OWNER, "operator": OPERATOR, "viewer": VIEWER}

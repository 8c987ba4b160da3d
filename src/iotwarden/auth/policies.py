"""THE table: every route of the app, who may call it, holding which permission, on what.

A route missing here cannot be mounted; a test also walks the live route table against it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from iotwarden.auth import permissions as p
from iotwarden.auth.policy import Policy, Target
from iotwarden.auth.principals import PrincipalKind
from iotwarden.recordings.media import AUDIO_TYPES

_ANYONE = frozenset({PrincipalKind.ANONYMOUS})
_USER = frozenset({PrincipalKind.USER})
_DEVICE = frozenset({PrincipalKind.DEVICE})
_USER_OR_DEVICE = _USER | _DEVICE
_JSON = frozenset({"application/json"})
_FORM = frozenset({"application/x-www-form-urlencoded"})
_DEV = "/api/v1/devices/{device_id}"


def _user(permission: str, target: Target = Target.NONE, body: bool = False) -> Policy:
    return Policy(_USER, permission, target, _JSON if body else frozenset())


def _on_device(permission: str, body: bool = False) -> Policy:
    return _user(permission, Target.DEVICE, body)


def _as_device(permission: str, media: frozenset[str] = frozenset()) -> Policy:
    return Policy(_DEVICE, permission, Target.DEVICE, media)


POLICIES: Final[Mapping[tuple[str, str], Policy]] = {
    # Public: health, the API description, and the two ways to obtain a token.
    ("GET", "/healthz"): Policy(_ANYONE, None),
    ("GET", "/openapi.json"): Policy(_ANYONE, None),
    ("POST", "/api/v1/auth/login"): Policy(_ANYONE, None, media_types=_JSON),
    ("POST", "/oauth/token"): Policy(_ANYONE, None, media_types=_FORM),
    # The signed-in user's own account and sessions.
    ("POST", "/api/v1/auth/logout"): _user(p.SESSIONS_REVOKE),
    ("GET", "/api/v1/me"): _user(p.ACCOUNT_READ),
    ("POST", "/api/v1/me/password"): _user(p.ACCOUNT_WRITE, body=True),
    ("GET", "/api/v1/sessions"): _user(p.SESSIONS_READ, Target.OWN),
    ("DELETE", "/api/v1/sessions/{session_id}"): _user(p.SESSIONS_REVOKE, Target.OWN),
    # Devices.
    ("GET", "/api/v1/devices"): _user(p.DEVICES_LIST, Target.OWN),
    ("POST", "/api/v1/devices"): _user(p.DEVICES_CREATE, body=True),
    ("GET", _DEV): Policy(_USER_OR_DEVICE, p.DEVICES_READ, Target.DEVICE),
    ("PATCH", _DEV): _on_device(p.DEVICES_WRITE, body=True),
    ("DELETE", _DEV): _on_device(p.DEVICES_DELETE),
    ("POST", _DEV + "/secret"): _on_device(p.DEVICES_SECRET_ROTATE),
    ("POST", _DEV + "/disable"): _on_device(p.DEVICES_WRITE),
    ("POST", _DEV + "/enable"): _on_device(p.DEVICES_WRITE),
    # Telemetry.
    ("POST", _DEV + "/telemetry"): _as_device(p.TELEMETRY_WRITE, _JSON),
    ("GET", _DEV + "/telemetry"): _on_device(p.TELEMETRY_READ),
    # Commands.
    ("POST", _DEV + "/commands"): _on_device(p.COMMANDS_WRITE, body=True),
    ("GET", _DEV + "/commands"): _on_device(p.COMMANDS_READ),
    ("GET", _DEV + "/commands/pending"): _as_device(p.COMMANDS_FETCH),
    ("POST", _DEV + "/commands/{command_id}/ack"): _as_device(p.COMMANDS_ACK, _JSON),
    # Recordings: the CloudPets asset. Owner only; downloads need a grant bound to the user.
    ("POST", _DEV + "/recordings"): _as_device(p.RECORDINGS_WRITE, AUDIO_TYPES),
    ("GET", _DEV + "/recordings"): _on_device(p.RECORDINGS_READ),
    ("POST", _DEV + "/recordings/{recording_id}/download-url"): _on_device(p.RECORDINGS_READ),
    ("GET", _DEV + "/recordings/{recording_id}/accesses"): _on_device(p.RECORDINGS_AUDIT),
    ("GET", "/api/v1/recordings/download/{grant}"): _user(p.RECORDINGS_DOWNLOAD, Target.OWN),
    # Sharing.
    ("GET", _DEV + "/shares"): _on_device(p.SHARES_READ),
    ("POST", _DEV + "/shares"): _on_device(p.SHARES_WRITE, body=True),
    ("DELETE", _DEV + "/shares/{share_id}"): _on_device(p.SHARES_WRITE),
}

"""The data side of bench/ingest.py: a fresh database with a user and a device, the device's
token, the probes that choose the timestamp form, and the count of the rows a run stored.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sqlite3
import sys
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from servers import Server, http

from iotwarden.accounts.services import create_user
from iotwarden.config import Settings
from iotwarden.db.engine import create_engine, create_sessionmaker
from iotwarden.db.migrate import upgrade
from iotwarden.devices.schemas import DeviceCreate
from iotwarden.devices.services import register


async def provision(data_dir: Path) -> tuple[str, str]:
    """Migrate a fresh database and create a user and a device in it: (device id, secret)."""
    settings = Settings(data_dir=data_dir)
    engine = create_engine(settings.resolved_database_url)
    try:
        await upgrade(engine)
        sessions = create_sessionmaker(engine)
        async with sessions() as db:
            user = await create_user(db, "bench@example.com", secrets.token_urlsafe(24))
            device, secret = await register(db, user.id, DeviceCreate(name="bench sensor"))
            return str(device.id), secret
    finally:
        await engine.dispose()


def device_token(base_url: str, device_id: str, secret: str) -> str:
    form = urllib.parse.urlencode(
        {"grant_type": "client_credentials", "client_id": device_id, "client_secret": secret}
    ).encode()
    status, body = http(
        base_url + "/oauth/token",
        form,
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    if status != 200:
        sys.exit(f"POST /oauth/token answered {status}: {body[:300]!r}")
    token: str = json.loads(body)["access_token"]
    return token


def post_once(server: Server, device_id: str, token: str, ts: Any) -> tuple[int, bytes]:
    body = json.dumps({"readings": [{"ts": ts, "metric": "bench.probe", "value": 1.5}]})
    return http(
        f"{server.url}/api/v1/devices/{device_id}/telemetry",
        body.encode(),
        {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )


def timestamp_format(bare: Server, device_id: str) -> str:
    """Integer epoch milliseconds if the body model takes them, else RFC 3339 strings."""
    now = int(time.time() * 1000) - 60_000
    status, body = post_once(bare, device_id, "", now)
    if 200 <= status < 300:
        return "ms"
    rfc3339 = datetime.fromtimestamp(now / 1000, UTC).isoformat(timespec="milliseconds")
    status2, body2 = post_once(bare, device_id, "", rfc3339.replace("+00:00", "Z"))
    if 200 <= status2 < 300:
        return "rfc3339"
    sys.exit(f"the bare app refused both timestamp forms: {status} {body!r}; {status2} {body2!r}")


def count_stored(db_path: Path, run_id: int) -> int:
    """Rows stored by one wrk run: post.lua puts the run id in every metric name."""
    prefix = f"bench.r{run_id}."
    uri = f"file:{db_path}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=30)) as db:
        row = db.execute(
            # "/" follows "." in ASCII: the range is exactly the names with this prefix.
            "SELECT count(*) FROM readings WHERE metric >= ? AND metric < ?",
            (prefix, prefix[:-1] + "/"),
        ).fetchone()
    return int(row[0])

"""Shared plumbing for suites that talk to real backing services.

Locally a missing service skips its tests so a laptop without Redis or
PostgreSQL can still run the suite; with CI=true the same situation fails,
because a silently skipped backend would let CI pass without testing it.

Test modules should take ``require_service`` (and ``redis_url``) as fixtures
rather than ``from conftest import ...``: with several conftest.py files and no
``__init__.py`` the bare name ``conftest`` may resolve to another directory's file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import NoReturn

import pytest
import redis

REDIS_URL = "redis://127.0.0.1:6379/0"
# Short timeout so an absent service costs a second, not the client default.
_PROBE_TIMEOUT = 1.0


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def require_service(name: str, exc: BaseException, *, at: str | None = None) -> NoReturn:
    """Skip (locally) or fail (CI=true) because service ``name`` is unreachable.

    ``at`` is shown in the message; pass a location without credentials.
    """
    where = f" at {at}" if at else ""
    message = f"{name} unreachable{where}: {type(exc).__name__}: {exc}"
    if running_in_ci():
        pytest.fail(f"{message} (CI=true: backend tests must not be skipped)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(name="require_service")
def _require_service_fixture() -> Callable[..., NoReturn]:
    return require_service


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of a reachable Redis; probed once per session (the skip is cached too)."""
    client = redis.Redis.from_url(
        REDIS_URL, socket_connect_timeout=_PROBE_TIMEOUT, socket_timeout=_PROBE_TIMEOUT
    )
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        require_service("Redis", exc, at=REDIS_URL)
    finally:
        client.close()
    return REDIS_URL

"""The storage layer behaves the same on SQLite and PostgreSQL.

Every test runs once per database (``database_url`` is parametrized in conftest.py), each
on an empty database. Divergences these tests exist to catch: timezone handling, constraint
enforcement (SQLite only enforces foreign keys when told to), UUID and timestamp ordering,
JSON and number storage, and quoting.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import delete, func, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from iotwarden.accounts import services
from iotwarden.accounts.models import RefreshToken, Session, User
from iotwarden.commands.models import Command
from iotwarden.context import AppContext
from iotwarden.db.engine import create_engine, create_sessionmaker
from iotwarden.db.migrate import alembic_config, upgrade
from iotwarden.db.models import Base
from iotwarden.devices.models import Device
from iotwarden.http.pagination import PageParams, decode_cursor, keyset, page_of
from iotwarden.telemetry.models import Reading
from tests.conftest import PASSWORD, Account

Sessions = async_sessionmaker[AsyncSession]
SQL_TEXT = "Robert'); DROP TABLE devices;--"
# Quotes of both kinds, comment markers, LIKE wildcards, a backslash (PostgreSQL escapes).
METACHARACTERS = "a' OR '1'='1 \"; -- /* */ % _ \\ \\' $1 ?"
NESTED_JSON: dict[str, Any] = {
    "name": "Küche 🌡️ 温度 Ωμέγα",
    "schedule": {"mon": ["07:00", "22:30"], "sun": []},
    "deep": {"a": {"b": {"c": [1, 2.5, -3, True, False, None, "ü", {"d": "\u2028"}]}}},
    "exact": 2**53 + 1,
    "tenth": 0.1,
    "quote": "it's \"quoted\" \\ and ' OR 1=1 --",
    "empty": {},
}


@pytest.fixture
def state_url() -> None:
    """Overrides conftest: these tests do not involve the state store, so one backend."""
    return None


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def sessions(engine: AsyncEngine) -> Sessions:
    """A session factory on a migrated database."""
    await upgrade(engine)
    return create_sessionmaker(engine)


async def _user(sessions: Sessions, email: str = "user@example.com", **kw: Any) -> uuid.UUID:
    async with sessions() as db:
        user = User(email=email, password_hash="not-a-real-hash", **kw)
        db.add(user)
        await db.commit()
        return user.id


# --- migrations ----------------------------------------------------------------------------


def _schema(connection: Connection) -> dict[str, Any]:
    """Everything a migration decides, as reflected from the live database."""
    inspector = inspect(connection)
    return {
        table: {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
            ],
            "pk": inspector.get_pk_constraint(table)["constrained_columns"],
            "fks": sorted(
                (fk["constrained_columns"], fk["referred_table"], fk["options"].get("ondelete"))
                for fk in inspector.get_foreign_keys(table)
            ),
            "indexes": sorted((i["name"], i["column_names"]) for i in inspector.get_indexes(table)),
            "uniques": sorted(u["column_names"] for u in inspector.get_unique_constraints(table)),
        }
        for table in sorted(inspector.get_table_names())
    }


def _revision_state(connection: Connection) -> tuple[tuple[str, ...], list[Any]]:
    """What ``alembic current`` reports, and how the models differ from the database."""
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return context.get_current_heads(), compare_metadata(context, Base.metadata)


async def test_migrations_apply_from_empty_reach_head_and_rerun_as_noop(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as connection:
        assert await connection.run_sync(_schema) == {}, "the database was not empty"

    await upgrade(engine)
    async with engine.connect() as connection:
        schema = await connection.run_sync(_schema)
        current, diff = await connection.run_sync(_revision_state)
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, f"migration history has several heads: {heads}"
    assert current == tuple(heads)
    assert set(schema) == set(Base.metadata.tables) | {"alembic_version"}
    # The models and the migrated schema agree: nobody changed a model without a migration.
    assert diff == []
    assert (["user_id"], "users", "CASCADE") in schema["sessions"]["fks"]
    assert (["created_by"], "users", "SET NULL") in schema["commands"]["fks"]

    await upgrade(engine)
    async with engine.connect() as connection:
        assert await connection.run_sync(_schema) == schema
        assert (await connection.run_sync(_revision_state))[0] == current


# --- datetimes -----------------------------------------------------------------------------


async def test_datetimes_come_back_aware_utc_and_compare_as_instants(sessions: Sessions) -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    when = datetime(2031, 3, 9, 23, 59, 58, 123456, tzinfo=india)
    user_id = await _user(sessions, created_at=when, password_changed_at=when)

    async with sessions() as db:
        loaded = await db.get(User, user_id)
    assert loaded is not None
    assert loaded.created_at == when
    assert loaded.created_at.tzinfo is UTC
    # Stored as the instant, read back in UTC wall time, microseconds intact.
    assert loaded.created_at.replace(tzinfo=None) == datetime(2031, 3, 9, 18, 29, 58, 123456)

    pacific = timezone(timedelta(hours=-8))
    async with sessions() as db:

        async def count(*where: Any) -> int:
            return int(await db.scalar(select(func.count()).select_from(User).where(*where)) or 0)

        assert await count(User.created_at == when.astimezone(pacific)) == 1
        assert await count(User.created_at > when - timedelta(microseconds=1)) == 1
        assert await count(User.created_at > when) == 0
        assert (
            await count(User.created_at < when.astimezone(pacific) + timedelta(microseconds=1)) == 1
        )


async def test_naive_datetimes_are_refused_on_write(sessions: Sessions) -> None:
    async with sessions() as db:
        db.add(User(email="naive@example.com", password_hash="x", created_at=datetime(2030, 1, 1)))
        with pytest.raises(StatementError, match="naive"):
            await db.commit()


# --- constraints ---------------------------------------------------------------------------


async def test_email_is_unique(sessions: Sessions) -> None:
    async with sessions() as db:
        await services.create_user(db, "dup@example.com", PASSWORD)
    async with sessions() as db:
        with pytest.raises(services.EmailTakenError):
            await services.create_user(db, "dup@example.com", PASSWORD)
    # The constraint itself, not only the service's reading of it.
    async with sessions() as db:
        db.add(User(email="dup@example.com", password_hash="x"))
        with pytest.raises(IntegrityError):
            await db.commit()
    async with sessions() as db:
        assert await db.scalar(select(func.count()).select_from(User)) == 1


async def test_foreign_keys_are_enforced(sessions: Sessions) -> None:
    async with sessions() as db:
        db.add(Session(user_id=uuid.uuid4(), expires_at=datetime.now(UTC)))
        with pytest.raises(IntegrityError):
            await db.commit()


async def test_deleting_a_user_cascades_to_what_it_owns(sessions: Sessions) -> None:
    now = datetime.now(UTC)
    alice, bob = (
        await _user(sessions, "alice@example.com"),
        await _user(sessions, "bob@example.com"),
    )
    async with sessions() as db:
        family = Session(user_id=alice, expires_at=now + timedelta(days=1))
        alices_device = Device(owner_id=alice, name="lamp", secret_hash="0" * 64)
        bobs_device = Device(owner_id=bob, name="door", secret_hash="1" * 64)
        db.add_all([family, alices_device, bobs_device])
        await db.flush()
        db.add_all(
            [
                RefreshToken(session_id=family.id, token_hash="2" * 64, expires_at=now),
                Reading(device_id=alices_device.id, metric="temp", ts_ms=1, value=1.0),
                # Alice once sent Bob's door a command: it stays in Bob's history, anonymised.
                Command(device_id=bobs_device.id, created_by=alice, name="open", expires_at=now),
            ]
        )
        await db.commit()
        bobs_device_id = bobs_device.id

    async with sessions() as db:
        await db.execute(delete(User).where(User.id == alice))
        await db.commit()

    async with sessions() as db:

        async def count(model: type[Base]) -> int:
            return int(await db.scalar(select(func.count()).select_from(model)) or 0)

        assert await count(Session) == 0
        assert await count(RefreshToken) == 0
        assert await count(Reading) == 0
        assert await db.scalar(select(Device.id)) == bobs_device_id
        command = await db.scalar(select(Command))
        assert command is not None
        assert command.created_by is None


# --- hostile text --------------------------------------------------------------------------


async def test_sql_metacharacters_are_stored_literally(
    sessions: Sessions, engine: AsyncEngine
) -> None:
    owner = await _user(sessions, "o'brien+%_@example.com")
    async with sessions() as db:
        device = Device(
            owner_id=owner,
            name=SQL_TEXT,
            model=METACHARACTERS,
            labels={"room": METACHARACTERS},
            secret_hash="0" * 64,
        )
        db.add(device)
        await db.commit()
        device_id = device.id

    async with sessions() as db:
        found = await db.scalar(select(Device).where(Device.name == SQL_TEXT))
        assert found is not None
        assert (found.id, found.name, found.model) == (device_id, SQL_TEXT, METACHARACTERS)
        assert found.labels == {"room": METACHARACTERS}
        assert (
            await db.scalar(select(User.id).where(User.email == "o'brien+%_@example.com")) == owner
        )
        # Wildcards are characters under "=", never patterns.
        assert (
            await db.scalar(select(User.id).where(User.email == "o'brien+xy@example.com")) is None
        )
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
    assert "devices" in tables


async def test_nul_and_sql_text_through_the_api(
    client: httpx.AsyncClient, ctx: AppContext, alice: Account
) -> None:
    """What reaches the database came through the schemas: NUL is refused there (PostgreSQL
    cannot store it in text, SQLite would), SQL is accepted and stored as written."""
    refused = [
        {"name": "lamp\x00"},
        {"name": "lamp", "labels": {"room": "kitchen\x00"}},
        {"name": "lamp", "config": {"wifi": {"ssid": "home\x00net"}}},
        {"name": "lamp", "config": {"key\x00": 1}},
    ]
    for body in refused:
        response = await client.post("/api/v1/devices", json=body, headers=alice.headers)
        assert response.status_code == 422, (body, response.text)
    login = await client.post(
        "/api/v1/auth/login", json={"email": "alice@example.com\x00", "password": alice.password}
    )
    assert login.status_code == 422

    created = await client.post(
        "/api/v1/devices",
        json={"name": SQL_TEXT, "model": METACHARACTERS, "config": {"note": METACHARACTERS}},
        headers=alice.headers,
    )
    assert created.status_code == 201, created.text
    fetched = await client.get(f"/api/v1/devices/{created.json()['id']}", headers=alice.headers)
    assert fetched.status_code == 200
    assert fetched.json()["name"] == SQL_TEXT
    assert fetched.json()["model"] == METACHARACTERS
    assert fetched.json()["config"] == {"note": METACHARACTERS}
    async with ctx.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(Device)) == 1
    listing = await client.get("/api/v1/devices", headers=alice.headers)
    assert [item["name"] for item in listing.json()["items"]] == [SQL_TEXT]


# --- ordering, JSON and numbers ------------------------------------------------------------


async def test_keyset_pagination_order_is_the_same(sessions: Sessions) -> None:
    """Newest first, ties broken by id: both compared as instants and as unsigned 128-bit
    values (a signed or text-in-local-time comparison would reorder these rows)."""
    user_id = await _user(sessions)
    base = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
    pacific = timezone(timedelta(hours=-8))
    tie = [uuid.UUID(f"{first:02x}" + "0" * 30) for first in (0x0F, 0x80, 0xF0, 0x7F)]
    created = [
        *((base, sid) for sid in tie),
        (base + timedelta(microseconds=1), uuid.UUID(int=1)),
        (base - timedelta(microseconds=1), uuid.UUID(int=2**128 - 1)),
        # Later as an instant, earlier by wall clock.
        (base.astimezone(pacific) + timedelta(hours=1), uuid.UUID(int=3)),
        (base - timedelta(days=400), uuid.UUID(int=4)),
    ]
    async with sessions() as db:
        db.add_all(
            Session(id=sid, user_id=user_id, created_at=at, expires_at=base) for at, sid in created
        )
        await db.commit()
    expected = [sid for _, sid in sorted(created, reverse=True)]

    seen: list[uuid.UUID] = []
    cursor: str | None = None
    for _ in range(len(created)):
        params = PageParams(limit=3, cursor=decode_cursor(cursor) if cursor else None)
        stmt = keyset(select(Session), params, Session.created_at, Session.id)
        async with sessions() as db:
            rows, cursor = page_of((await db.scalars(stmt)).all(), params)
        seen.extend(row.id for row in rows)
        if cursor is None:
            break
    assert seen == expected


async def test_json_columns_round_trip(sessions: Sessions) -> None:
    owner = await _user(sessions)
    labels = {"room": "Wohnzimmer ☀", "floor": "2"}
    async with sessions() as db:
        device = Device(
            owner_id=owner, name="hub", labels=labels, config=NESTED_JSON, secret_hash="0" * 64
        )
        db.add(device)
        await db.flush()
        command = Command(
            device_id=device.id,
            name="configure",
            params=NESTED_JSON,
            result={"ok": True, "echo": NESTED_JSON},
            expires_at=datetime.now(UTC),
        )
        db.add(command)
        await db.commit()
        ids = device.id, command.id

    async with sessions() as db:
        loaded_device = await db.get(Device, ids[0])
        loaded_command = await db.get(Command, ids[1])
    assert loaded_device is not None
    assert loaded_command is not None
    assert loaded_device.labels == labels
    assert loaded_device.config == NESTED_JSON
    assert loaded_command.params == NESTED_JSON
    assert loaded_command.result == {"ok": True, "echo": NESTED_JSON}
    assert type(loaded_device.config["exact"]) is int
    assert loaded_device.config["tenth"] == 0.1


async def test_readings_keep_identity_and_numbers(sessions: Sessions) -> None:
    owner = await _user(sessions)
    ts_ms = 4_102_444_800_000  # 2100-01-01: past 2**31 and 2**32
    async with sessions() as db:
        device = Device(owner_id=owner, name="meter", secret_hash="0" * 64)
        db.add(device)
        await db.flush()
        values = {"a": 0.1, "b": -1e-300, "c": 1.7976931348623157e308, "d": 123456789.125}
        db.add_all(
            Reading(device_id=device.id, metric=metric, ts_ms=ts_ms, value=value)
            for metric, value in values.items()
        )
        await db.commit()
        device_id = device.id

    async with sessions() as db:
        rows = (await db.execute(select(Reading.metric, Reading.ts_ms, Reading.value))).all()
    assert {metric: (ts, value) for metric, ts, value in rows} == {
        metric: (ts_ms, value) for metric, value in values.items()
    }
    # (device, metric, ts) is the identity: a resent sample is a conflict, not a second row.
    async with sessions() as db:
        db.add(Reading(device_id=device_id, metric="a", ts_ms=ts_ms, value=99.0))
        with pytest.raises(IntegrityError):
            await db.commit()

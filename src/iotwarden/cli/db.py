"""``iotwarden db upgrade``: apply the Alembic migrations."""

from __future__ import annotations

import typer
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from iotwarden.cli.support import load_settings, run_with_engine, safe, stdout_console
from iotwarden.db.migrate import upgrade

db_app = typer.Typer(help="Manage the database schema.", no_args_is_help=True)


async def migrate(engine: AsyncEngine) -> tuple[str | None, str | None]:
    """Upgrade to the newest revision; return the revisions before and after."""
    before = await _current_revision(engine)
    await upgrade(engine)
    return before, await _current_revision(engine)


async def _current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(_revision_of)


def _revision_of(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


@db_app.command("upgrade")
def upgrade_command() -> None:
    """Apply every pending migration."""
    settings = load_settings()
    before, after = run_with_engine(settings, migrate)
    where = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    if before == after:
        message = f"Database already at revision {after}"
    else:
        message = f"Database upgraded from {before or 'an empty schema'} to revision {after}"
    stdout_console().print(f"{message} ({safe(where)})")

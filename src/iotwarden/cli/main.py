"""The ``iotwarden`` Typer application (the console script and ``python -m iotwarden``)."""

from __future__ import annotations

import typer

from iotwarden.cli.db import db_app
from iotwarden.cli.devices import device_app
from iotwarden.cli.serve import serve
from iotwarden.cli.users import user_app

app = typer.Typer(
    name="iotwarden",
    help="iotwarden: a secure-by-default IoT cloud backend.",
    no_args_is_help=True,
    add_completion=False,
    # A traceback's local variables could hold a password or a key.
    pretty_exceptions_show_locals=False,
)
app.command()(serve)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(device_app, name="device")

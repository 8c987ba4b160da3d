"""``python -m iotwarden``: the same CLI as the ``iotwarden`` console script."""

from iotwarden.cli.main import app

# Guarded: uvicorn's worker processes are spawned and import this module again.
if __name__ == "__main__":
    app(prog_name="iotwarden")

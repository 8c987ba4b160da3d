"""iotwarden: a secure-by-default IoT cloud backend."""

__version__ = "0.1.0"

"""The ``iotwarden`` command line: ``serve``, ``db``, ``user`` and ``device`` commands."""

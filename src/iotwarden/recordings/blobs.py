"""Recording files: random names, 0600 files in a 0700 directory, stored whole or not at all.

A file name is never derived from anything a client sent. An upload is streamed to a hidden
temporary file, hashed and counted as it goes, synced, then renamed into place; on any failure
(too large, empty, client gone) nothing is left behind.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import AsyncIterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from anyio import to_thread

from iotwarden.keys import ensure_data_dir

# The route-level body limit is fixed when the route is built, so it is the largest value
# ``Settings.max_recording_bytes`` accepts; the configured value is enforced while streaming.
MAX_RECORDING_BYTES_CEILING: Final = 256 * 1024 * 1024
_NAME = re.compile(r"[0-9a-f]{32}")
_PARTIAL = re.compile(r"\.(.+)\.part")
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


class BlobTooLargeError(Exception):
    pass


class EmptyBlobError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class StoredBlob:
    name: str
    size: int
    sha256: str


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, name: str) -> Path:
        if not _NAME.fullmatch(name):
            raise ValueError("not a storage name")
        return self.root / name

    async def save(self, chunks: AsyncIterable[bytes], max_bytes: int) -> StoredBlob:
        root = await to_thread.run_sync(ensure_data_dir, self.root)
        name = secrets.token_hex(16)
        partial = root / f".{name}.part"
        final = root / name
        digest = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(os.open(partial, _FLAGS, 0o600), "wb") as handle:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise BlobTooLargeError
                    digest.update(chunk)
                    await to_thread.run_sync(handle.write, chunk)
                if size == 0:
                    raise EmptyBlobError
                await to_thread.run_sync(_sync_file, handle)
            os.rename(partial, final)
            await to_thread.run_sync(_sync_dir, root)
        except BaseException:
            partial.unlink(missing_ok=True)
            final.unlink(missing_ok=True)
            raise
        return StoredBlob(name=name, size=size, sha256=digest.hexdigest())

    def delete(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)

    def stored_before(self, cutoff: float) -> list[str]:
        """Names of the stored files last changed before ``cutoff`` (epoch seconds)."""
        return [entry.name for entry in self._entries_before(cutoff) if _NAME.fullmatch(entry.name)]

    def partials_before(self, cutoff: float) -> list[Path]:
        """Temporary files of uploads that never finished, last changed before ``cutoff``."""
        return [
            Path(entry.path)
            for entry in self._entries_before(cutoff)
            if (match := _PARTIAL.fullmatch(entry.name)) and _NAME.fullmatch(match[1])
        ]

    def _entries_before(self, cutoff: float) -> list[os.DirEntry[str]]:
        if not self.root.is_dir():
            return []
        with os.scandir(self.root) as entries:
            return [
                entry
                for entry in entries
                if entry.is_file(follow_symlinks=False)
                and entry.stat(follow_symlinks=False).st_mtime < cutoff
            ]


def _sync_file(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _sync_dir(path: Path) -> None:
    # The rename is durable only once the directory entry itself reaches the disk.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

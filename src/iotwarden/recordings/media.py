"""Audio formats a device may upload: anything else is refused before it is stored."""

from typing import Final

AUDIO_TYPES: Final = frozenset(
    {
        "audio/wav",
        "audio/x-wav",
        "audio/mpeg",
        "audio/ogg",
        "audio/opus",
        "audio/webm",
        "audio/mp4",
        "audio/aac",
        "audio/flac",
    }
)

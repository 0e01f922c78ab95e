"""What this installation's PyAV and FFmpeg can do: versions and which codecs they carry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Literal, Optional

#: PyAV's codec modes: ``"r"`` decode, ``"w"`` encode.
CodecMode = Literal["r", "w"]


@dataclass(frozen=True)
class MediaCapabilities:
    """PyAV's and FFmpeg's versions and the ``(codec, mode)`` pairs available (``mode``: ``"r"`` decode, ``"w"``
    encode); ``error`` says why PyAV could not be imported, if it could not."""

    pyav_version: str = "unknown"
    ffmpeg_version: str = "unknown"
    available: frozenset[tuple[str, CodecMode]] = field(default_factory=frozenset)
    error: Optional[str] = None


def media_capabilities(wanted: Iterable[tuple[str, CodecMode]]) -> MediaCapabilities:
    """Which of the ``wanted`` ``(codec, mode)`` pairs this PyAV build has."""
    try:
        import av
        from av.codec import Codec
    except ImportError as exc:  # pragma: no cover - av is a dependency
        return MediaCapabilities(error=str(exc))
    available = set()
    for codec, mode in wanted:
        try:
            Codec(codec, mode)
            available.add((codec, mode))
        except Exception:  # noqa: BLE001 - PyAV raises several types for an unknown codec
            continue
    return MediaCapabilities(
        pyav_version=av.__version__,
        ffmpeg_version=str(getattr(av, "ffmpeg_version_info", "unknown")),
        available=frozenset(available),
    )

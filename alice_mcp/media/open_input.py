"""The one way a local media file is opened for reading: :func:`open_media`.

FFmpeg would otherwise follow references inside a file: an HLS playlist (``.m3u8``) or a concat list names other
files, anywhere on disk, and an image-sequence pattern reads many. A file inside an allowed folder could so make
the server read, proxy and upload videos from outside it or from hidden folders. So every local input is opened

* through a checked descriptor (:func:`alice_mcp.adapters.input_files.open_checked`: regular file, no final
  symlink, the very file the read policy checked), handed to PyAV as a file object, and
* with FFmpeg's ``protocol_whitelist`` limited to ``file`` and a ``format_whitelist`` of real single-file
  containers (:data:`SAFE_DEMUXERS`): no ``hls``, ``concat``, ``image2`` or other demuxer that reads other files.

Blocking; PyAV is imported on first use.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alice_mcp.adapters.input_files import open_checked

# Single-file demuxers (FFmpeg names): video containers, the audio formats fal returns, and single still images
# (so a picture is refused as "a still image", not as unreadable). Never hls, concat, image2, dash, tee or the like.
SAFE_DEMUXERS = (
    "mov,mp4,m4a,3gp,3g2,mj2",
    "matroska,webm",
    "avi",
    "mpegts",
    "mpeg",
    "flv",
    "ogg",
    "asf",
    "wav",
    "w64",
    "flac",
    "mp3",
    "aac",
    "png_pipe",
    "jpeg_pipe",
    "webp_pipe",
    "bmp_pipe",
    "tiff_pipe",
    "gif_pipe",
)
CONTAINER_OPTIONS = {"protocol_whitelist": "file", "format_whitelist": ",".join(SAFE_DEMUXERS)}


def open_media(path: Path | str, **kwargs: Any):  # type: ignore[no-untyped-def]
    """``av.open`` for reading the local file ``path`` safely (see the module docstring); use it only as a context
    manager (``with open_media(path) as container:``), which closes the container and its file.
    Raises :class:`~alice_mcp.data.errors.InputError` when the path no longer leads to the checked file, and
    ``av.error.FFmpegError`` (``Invalid argument``) for a format outside :data:`SAFE_DEMUXERS`."""
    import av

    fd = open_checked(Path(path))
    stream = os.fdopen(fd, "rb")
    try:
        container = av.open(stream, container_options=dict(CONTAINER_OPTIONS), **kwargs)
    except BaseException:
        stream.close()
        raise
    return _Owned(container, stream)


class _Owned:
    """A PyAV input container that also closes the file object it reads from."""

    def __init__(self, container, stream) -> None:  # type: ignore[no-untyped-def]
        self._container = container
        self._stream = stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self._container, name)

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self._container

    def __exit__(self, *exc: object) -> None:
        try:
            self._container.close()
        finally:
            self._stream.close()

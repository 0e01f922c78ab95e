"""Probe an ``https://`` video's header without downloading it: HTTP Range reads, bounded in bytes and time.

PyAV reads through :class:`RangeReader`, a seekable file object that fetches the blocks FFmpeg asks for (the start
of the file, and the index at its end for MP4s written without "faststart"). The HTTP goes through httpx with the
environment's proxy and CA settings, like every other request alice-mcp makes.

Blocking: call :func:`probe_url` from a worker thread. It never raises for network trouble: it returns ``None``
plus the reason, and the caller falls back to a default duration and says so.
"""

from __future__ import annotations

import io
import logging
import re
import time
from typing import IO, Optional, cast

from alice_mcp.adapters.url_policy import refuse_private_hops
from alice_mcp.data.errors import InputError
from alice_mcp.media.probe import VideoInfo, describe_video

log = logging.getLogger(__name__)

BLOCK_BYTES = 256 * 1024
MAX_PROBE_BYTES = 8 * 1024 * 1024
MAX_PROBE_SECONDS = 8.0
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


class _Stop(Exception):
    """The probe's byte or time budget is spent."""


class RangeReader(io.RawIOBase):
    """A read-only, seekable view of a remote file, fetched block by block with ``Range`` requests.

    The constructor raises ``httpx.HTTPError``/:class:`OSError` when the first block cannot be fetched. Later, once
    more than ``max_bytes`` were fetched, ``deadline`` (monotonic) has passed or a request fails, reads return end
    of file and :attr:`failure` says why (an exception inside FFmpeg's read callback would only be logged noisily).
    """

    def __init__(self, client, url: str, *, max_bytes: int, deadline: float) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self._client = client
        self._url = url
        self._max_bytes = max_bytes
        self._deadline = deadline
        self._pos = 0
        self._blocks: dict[int, bytes] = {}
        self.fetched = 0
        self.failure = ""
        self.size = self._fetch_first_block()

    def _get(self, start: int) -> tuple[bytes, Optional[int]]:
        if time.monotonic() > self._deadline:
            raise _Stop("reading its header took longer than the probe allows")
        if self.fetched >= self._max_bytes:
            raise _Stop("its header is larger than the probe reads")
        end = start + BLOCK_BYTES - 1
        remaining = max(0.1, self._deadline - time.monotonic())
        with self._client.stream(
            "GET", self._url, headers={"Range": f"bytes={start}-{end}"}, timeout=remaining
        ) as response:
            if response.status_code == 416:
                return b"", None
            if response.status_code != 206:  # never read a whole file that ignores Range
                raise OSError(f"HTTP {response.status_code} for a range request (206 expected)")
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) >= BLOCK_BYTES:
                    break
            match = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
        self.fetched += len(data)
        total = int(match.group(3)) if match and match.group(3) != "*" else None
        return bytes(data[:BLOCK_BYTES]), total

    def _fetch_first_block(self) -> int:
        data, total = self._get(0)
        self._blocks[0] = data
        if total is None:
            raise OSError("the server did not say how large the file is")
        return total

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == 65536:  # AVSEEK_SIZE: FFmpeg asks for the size
            return self.size
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence & 3]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        if self._pos >= self.size:
            return 0
        index = self._pos // BLOCK_BYTES * BLOCK_BYTES
        block = self._blocks.get(index)
        if block is None:
            if self.failure:
                return 0
            try:
                block, _ = self._get(index)
            except _Stop as exc:
                self.failure = str(exc)
                return 0
            except Exception as exc:  # noqa: BLE001 - any network failure ends the probe, never the job
                self.failure = f"it could not be read ({type(exc).__name__})"
                return 0
            self._blocks[index] = block
        chunk = block[self._pos - index : self._pos - index + len(buffer)]
        buffer[: len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)


def probe_url(
    url: str, *, max_bytes: int = MAX_PROBE_BYTES, max_seconds: float = MAX_PROBE_SECONDS
) -> tuple[Optional[VideoInfo], str]:
    """Describe the video at ``url`` from its header. Returns ``(info, "")`` or ``(None, reason)`` when it could not
    be probed (no range support, too slow, too large a header, unreachable).

    Raises :class:`InputError` only when the bytes were read and they are plainly not a video (an image, an audio
    file, a web page): nothing has been paid at that point, and fal would reject it anyway.
    """
    import httpx

    deadline = time.monotonic() + max_seconds
    reader: Optional[RangeReader] = None
    try:
        with httpx.Client(
            follow_redirects=True,
            timeout=max_seconds,
            headers={"User-Agent": "alice-mcp"},
            event_hooks={"request": [refuse_private_hops]},  # redirects may not lead inward (urls.py)
        ) as client:
            reader = RangeReader(client, url, max_bytes=max_bytes, deadline=deadline)
            # a RangeReader is a seekable binary file (io.RawIOBase), which is what IO[bytes] stands for here
            info = describe_video(
                cast(IO[bytes], reader), label=_short(url), size_bytes=reader.size, check_frames=False
            )
            log.info("probed the header of %s with %d bytes", _short(url), reader.fetched)
            return info, ""
    except InputError:
        if reader is not None and reader.failure:
            return None, reader.failure
        raise
    except _Stop as exc:
        return None, str(exc)
    except (httpx.HTTPError, OSError) as exc:
        return None, f"it could not be read ({type(exc).__name__}: {str(exc)[:120]})"


def _short(url: str) -> str:
    """The URL without its query (signed URLs carry secrets there)."""
    return url.split("?", 1)[0]

"""Probe an ``https://`` video's header without downloading it: HTTP Range reads, bounded in bytes and time.

PyAV reads through :class:`RangeReader`, a seekable file object that fetches the blocks FFmpeg asks for (the start
of the file, and the index at its end for MP4s written without "faststart"). The HTTP goes through httpx with the
environment's proxy and CA settings, like every other request alice-mcp makes.

Blocking: call :func:`probe_url` from a worker thread. It never raises for network trouble: it returns ``None``
plus the reason, and the caller falls back to a default duration and says so.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import time
from typing import IO, Any, Iterator, Optional, cast

from alice_mcp.adapters.url_policy import check_video_url, refuse_private_hops, resolve_public
from alice_mcp.data.errors import InputError
from alice_mcp.media.probe import VideoInfo, describe_video

log = logging.getLogger(__name__)

BLOCK_BYTES = 256 * 1024
MAX_PROBE_BYTES = 8 * 1024 * 1024
MAX_PROBE_SECONDS = 8.0
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
MAX_REDIRECTS = 5


class PinnedFetcher:
    """GETs of a user's URL that only ever connect to an address that was checked.

    Without a proxy, each host is resolved once (:func:`~alice_mcp.adapters.url_policy.resolve_public` refuses any
    private answer) and the connection goes to that address, with the name kept for TLS (SNI and certificate) and
    the ``Host`` header: no second lookup can point elsewhere. Behind an HTTP proxy (``HTTPS_PROXY``) the proxy
    resolves names; only literal addresses are checked here. Redirects are followed by hand (at most
    :data:`MAX_REDIRECTS`), each hop passing the same URL rules.
    """

    def __init__(self, timeout: float, allow_http: bool = False) -> None:
        import httpx

        self._allow_http = allow_http
        common = dict(timeout=timeout, headers={"User-Agent": "alice-mcp"}, follow_redirects=False)
        self._proxied = httpx.Client(event_hooks={"request": [refuse_private_hops]}, **common)  # type: ignore[arg-type]
        self._direct = httpx.Client(trust_env=False, verify=_verify_context(), **common)  # type: ignore[arg-type]
        self._pinned: dict[tuple[str, int], str] = {}

    def close(self) -> None:
        self._proxied.close()
        self._direct.close()

    def __enter__(self) -> PinnedFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def stream(self, method: str, url: str, *, headers: dict[str, str], timeout: float) -> Iterator[Any]:
        """Like ``httpx.Client.stream``, following redirects through checked hops only."""
        import httpx

        for _hop in range(MAX_REDIRECTS + 1):
            refuse_private_hops(httpx.Request(method, url))  # inward or non-web hops: "private network"
            check_video_url(url, allow_http=self._allow_http)
            response = self._send(method, url, headers, timeout)
            if response.is_redirect and response.headers.get("location"):
                location = str(response.url.join(response.headers["location"]))
                response.close()
                url = location
                continue
            try:
                yield response
            finally:
                response.close()
            return
        raise OSError("too many redirects")

    def _send(self, method: str, url: str, headers: dict[str, str], timeout: float):  # type: ignore[no-untyped-def]
        import httpx

        target = httpx.URL(url)
        host, port = target.host, target.port or (443 if target.scheme == "https" else 80)
        if _proxy_applies(host, target.scheme):
            request = self._proxied.build_request(method, target, headers=headers, timeout=timeout)
            return self._proxied.send(request, stream=True)
        address = self._pinned.get((host, port))
        if address is None:
            address = resolve_public(host, port)[0]  # InputError for a private answer, OSError if unknown
            self._pinned[(host, port)] = address
        pinned = target.copy_with(host=address)
        request = self._direct.build_request(
            method,
            pinned,
            headers={**headers, "Host": target.netloc.decode("ascii")},
            timeout=timeout,
            extensions={"sni_hostname": host},
        )
        return self._direct.send(request, stream=True)


def _proxy_applies(host: str, scheme: str) -> bool:
    """Whether the environment's proxy settings send a request for ``host`` through a proxy."""
    import urllib.request

    proxies = urllib.request.getproxies_environment()
    if not (proxies.get(scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass_environment(host, proxies)  # type: ignore[attr-defined]  # not in typeshed


def _verify_context():  # type: ignore[no-untyped-def]
    """The CA bundle httpx would use (``SSL_CERT_FILE``/``SSL_CERT_DIR`` when set, else certifi's)."""
    import os
    import ssl

    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    if cafile or capath:
        return ssl.create_default_context(cafile=cafile or None, capath=capath or None)
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


class _Stop(Exception):
    """The probe's byte or time budget is spent."""


class _HttpStatus(OSError):
    """The server answered, but not with the partial content a header probe needs."""


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
        self.refusal: Optional[InputError] = None
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
                raise _HttpStatus(f"its server answered HTTP {response.status_code} to a range request")
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
            except InputError as exc:  # a redirect inward: end the probe, probe_url raises it
                self.refusal = exc
                self.failure = "it redirected to a private address"
                return 0
            except Exception:  # noqa: BLE001 - any network failure ends the probe, never the job
                self.failure = "it could not be read to its end"
                return 0
            self._blocks[index] = block
        chunk = block[self._pos - index : self._pos - index + len(buffer)]
        buffer[: len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)


def probe_url(
    url: str, *, max_bytes: int = MAX_PROBE_BYTES, max_seconds: float = MAX_PROBE_SECONDS, allow_http: bool = False
) -> tuple[Optional[VideoInfo], str]:
    """Describe the video at ``url`` from its header. Returns ``(info, "")`` or ``(None, reason)`` when it could not
    be probed (no range support, too slow, too large a header, unreachable).

    Raises :class:`InputError` when the URL (or a redirect) leads to this machine or a private network, once
    resolved, and when the bytes were read and they are plainly not a video (an image, an audio file, a web page):
    nothing has been paid at that point. The reason never carries a raw connection error (which would tell a caller
    which local ports answer).
    """
    import httpx

    deadline = time.monotonic() + max_seconds
    reader: Optional[RangeReader] = None
    try:
        # an http:// URL got here only because the operator allows http (sources.py checked it)
        with PinnedFetcher(max_seconds, allow_http=url.lower().startswith("http://")) as client:
            reader = RangeReader(client, url, max_bytes=max_bytes, deadline=deadline)
            try:
                info = describe_video(
                    cast(IO[bytes], reader), label=_short(url), size_bytes=reader.size, check_frames=False
                )
            finally:
                if reader.refusal is not None:
                    raise reader.refusal
            log.info("probed the header of %s with %d bytes", _short(url), reader.fetched)
            return info, ""
    except InputError as exc:
        if exc.code == "url_not_allowed":
            raise
        if reader is not None and reader.failure:
            return None, reader.failure
        raise
    except _Stop as exc:
        return None, str(exc)
    except _HttpStatus as exc:
        return None, str(exc)
    except (httpx.HTTPError, OSError, ValueError) as exc:
        log.info("probing %s failed: %s", _short(url), type(exc).__name__)
        return None, "it could not be reached"


def _short(url: str) -> str:
    """The URL without its query (signed URLs carry secrets there)."""
    return url.split("?", 1)[0]

"""Reuse instead of paying twice: content digests, deterministic-request cache keys, and upload dedupe.

* :func:`file_digest` — SHA-256 of a file's content, remembered per file version (path, size, mtime, inode) in the
  ledger so an unchanged file is hashed once.
* :func:`cache_key` — the identity of a deterministic request: the whole request model (minus where the result goes
  and where the input lives), the resolved settings (with the seed), and the input's content digest. Fields added to
  a request model later are part of the key automatically. Only requests with an explicit seed get a key: without
  one, every call is a new variation.
* :func:`upload_deduped` — upload a file unless the same content is already on fal storage and its URL stays valid
  long enough for a job to fetch it (the expiry comes from ``ALICE_UPLOAD_TTL``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Optional

import anyio

if TYPE_CHECKING:
    from alice_mcp.adapters.fal import FalGateway
    from alice_mcp.adapters.ledger import AsyncLedger, Ledger

# Request fields that say where things are, not what to make: the input is identified by its content digest instead.
NOT_PART_OF_THE_KEY = frozenset({"output_path", "video"})
_TTL_WORDS = {"immediate": 60, "1h": 3600, "1d": 86400, "7d": 604800, "30d": 2592000, "1y": 31536000}
_CHUNK = 1 << 20
log = logging.getLogger(__name__)


def _digest_sync(path: Path, ledger: Ledger) -> str:
    info = path.stat()
    known = ledger.known_digest(str(path), info.st_size, info.st_mtime_ns, info.st_ino)
    if known:
        return known
    sha = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            sha.update(chunk)
    digest = "sha256:" + sha.hexdigest()
    ledger.record_digest(str(path), info.st_size, info.st_mtime_ns, info.st_ino, digest)
    return digest


async def file_digest(path: Path, ledger: AsyncLedger) -> str:
    """``sha256:<hex>`` of the file's content (hashed in a worker thread, at most once per file version)."""
    return await anyio.to_thread.run_sync(_digest_sync, path, ledger.sync)


def cache_key(
    kind: str, endpoint: str, request: dict[str, Any], settings: dict[str, Any], input_digest: Optional[str]
) -> str:
    """A stable key for a deterministic request (see the module docstring)."""
    identity = {
        "kind": kind,
        "endpoint": endpoint,
        "request": {k: v for k, v in request.items() if k not in NOT_PART_OF_THE_KEY},
        "settings": settings,
        "input": input_digest,
    }
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return "req:" + hashlib.sha256(canonical.encode()).hexdigest()


def ttl_seconds(upload_ttl: str | int | None) -> float | None:
    """``ALICE_UPLOAD_TTL`` in seconds; ``None`` for ``never`` (no expiry requested)."""
    if upload_ttl is None:
        return None
    text = str(upload_ttl).strip().lower()
    if text in ("", "never"):
        return None
    if text in _TTL_WORDS:
        return float(_TTL_WORDS[text])
    if re.fullmatch(r"\d+", text):
        return float(text)
    return None


async def upload_deduped(
    gateway: FalGateway,
    ledger: AsyncLedger,
    path: Path,
    upload_ttl: str | int | None,
    before_upload: Callable[[], Awaitable[None]] | None = None,
) -> tuple[str, bool]:
    """fal's URL for ``path``'s content and whether it was reused (``True``: nothing was uploaded).
    ``before_upload`` is awaited only when the file is really uploaded (e.g. to say "Uploading ...")."""
    digest = await file_digest(path, ledger)
    ttl = ttl_seconds(upload_ttl)
    now = time.time()
    # A reused URL must outlive the job that fetches it: keep a margin of a quarter of the TTL, at most an hour.
    margin = min(3600.0, ttl / 4) if ttl else 0.0
    url = await ledger.upload_url(digest, now + margin)
    if url is not None:
        if await gateway.file_is_live(url):
            return url, True
        log.info("fal storage no longer serves the recorded upload of %s; uploading it again", path.name)
        await ledger.forget_upload(url)
    if before_upload is not None:
        await before_upload()
    url = await gateway.upload_file(path)
    await ledger.record_upload(digest, path.stat().st_size, url, now + ttl if ttl else None)
    return url, False

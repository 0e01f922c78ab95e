"""On-disk file store and fal's storage/upload endpoints (reference §4).

Contract
--------
* :class:`FileStore` keeps every file ON DISK under its root dir, indexed by
  (host, unquoted path); bodies are streamed in and out, never held whole.
  ``resolve(url)`` is what jobs use to "download" their inputs.
* :class:`StorageApi` implements, for fal_client 1.0.3:
  - ``POST rest.fal.ai/storage/auth/token`` -> ``{token, token_type:"Bearer",
    base_url:"https://v3.fal.media", expires_at: tz-aware ISO}``;
  - ``POST v3.fal.media/files/upload`` (raw body) -> ``{"access_url"}``;
  - multipart: ``POST {base}/files/upload/multipart`` -> ``{access_url,
    uploadId}``; ``PUT {access_url}/multipart/{uploadId}/{n}`` -> 200 with an
    ``ETag`` (quoted MD5); ``POST {access_url}/multipart/{uploadId}/complete``
    checks every listed etag (any order), assembles parts in part-number
    order on disk (worker thread), -> ``{"access_url"}``; repeating complete
    is idempotent;
  - fallback: ``POST rest.fal.ai/storage/upload/initiate`` -> ``{upload_url
    (https://storage.googleapis.com/... signed), file_url
    (https://v3.fal.media/files/...)}`` then ``PUT upload_url``.
    (UNVERIFIED: real file_url host; we serve it from v3.fal.media.)
  - GET/HEAD of stored files with Content-Length/Content-Type and single
    ``Range`` support.
* Lifecycle headers are parsed and recorded; ``expiration_duration_seconds``
  is enforced: an expired file answers 404 and cannot be used as job input
  (UNVERIFIED: real deletion timing). ACLs are recorded, not enforced.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import mimetypes
import os
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

from .common import cdn_auth, fal_key
from .state import TwinState, UploadRecord
from .web import Request, Response, json_response

CDN_BASE = "https://v3.fal.media"
GCS_BASE = "https://storage.googleapis.com/fal-twin-uploads"
FILE_HOSTS = ("v3.fal.media", "media.example.test", "example.com")


@dataclass
class StoredFile:
    path: str
    content_type: str
    size: int
    expires_at: float | None = None
    public: bool = False


@dataclass
class _Multipart:
    url: str
    name: str
    content_type: str
    lifecycle: dict | None
    parts: dict[int, tuple[str, str, int]] = field(default_factory=dict)  # n -> (path, etag, size)
    completed: bool = False


def _key(host: str, path: str) -> tuple[str, str]:
    return host.lower(), unquote(path)


def _lifecycle(req: Request) -> dict | None:
    raw = req.headers.get("x-fal-object-lifecycle") or req.headers.get("x-fal-object-lifecycle-preference")
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return {"_unparsable": raw}
    return value if isinstance(value, dict) else {"_value": value}


def _expiry(lifecycle: dict | None) -> float | None:
    secs = (lifecycle or {}).get("expiration_duration_seconds")
    return time.time() + float(secs) if isinstance(secs, (int, float)) and secs > 0 else None


class FileStore:
    def __init__(self, root: str) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._files: dict[tuple[str, str], StoredFile] = {}

    def new_path(self, suffix: str = "") -> str:
        fd, path = tempfile.mkstemp(dir=self.root, suffix=suffix)
        os.close(fd)
        return path

    @staticmethod
    def new_id() -> str:
        return secrets.token_urlsafe(12).replace("-", "a").replace("_", "b")

    @staticmethod
    def cdn_url(file_id: str, name: str) -> str:
        return f"{CDN_BASE}/files/{file_id}/{quote(name)}"

    def register(
        self, url: str, path: str, content_type: str, lifecycle: dict | None = None, public: bool = False
    ) -> StoredFile:
        parts = urlsplit(url)
        sf = StoredFile(path, content_type, os.path.getsize(path), _expiry(lifecycle), public)
        with self._lock:
            old = self._files.get(_key(parts.hostname or "", parts.path))
            self._files[_key(parts.hostname or "", parts.path)] = sf
        if old is not None and old.path != path:
            _unlink(old.path)
        return sf

    def lookup(self, host: str, path: str) -> StoredFile | None:
        with self._lock:
            sf = self._files.get(_key(host, path))
        if sf is None or (sf.expires_at is not None and sf.expires_at <= time.time()):
            return None
        return sf

    def forget(self, url: str) -> None:
        """The file behind a twin-hosted URL vanishes (fal's storage copy expired or was deleted)."""
        parts = urlsplit(url)
        with self._lock:
            gone = self._files.pop(_key(parts.hostname or "", parts.path), None)
        if gone is not None:
            _unlink(gone.path)

    def resolve(self, url: str) -> StoredFile | None:
        """The stored file behind a twin-hosted http(s) URL, else None."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return None
        if parts.scheme not in ("http", "https") or (parts.hostname or "") not in FILE_HOSTS:
            return None
        return self.lookup(parts.hostname or "", parts.path)

    def clear(self, keep_public: bool = True) -> None:
        with self._lock:
            doomed = [k for k, v in self._files.items() if not (keep_public and v.public)]
            paths = [self._files.pop(k).path for k in doomed]
        for p in paths:
            _unlink(p)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


async def receive_to_file(req: Request, path: str) -> tuple[int, str]:
    """Stream the request body into ``path``; returns (size, md5 hex)."""
    md5 = hashlib.md5()
    size = 0
    try:
        with open(path, "wb", buffering=1 << 20) as f:
            async for chunk in req.iter_body():
                md5.update(chunk)
                f.write(chunk)
                size += len(chunk)
    except BaseException:
        _unlink(path)
        raise
    return size, md5.hexdigest()


def serve_file(req: Request, sf: StoredFile | None) -> Response:
    if sf is None:
        return json_response(404, {"detail": "Not Found"})
    headers = [("content-type", sf.content_type), ("accept-ranges", "bytes")]
    rng = req.headers.get("range", "")
    if rng.startswith("bytes=") and "," not in rng:
        start_s, _, end_s = rng[6:].partition("-")
        try:
            if start_s:
                start, end = int(start_s), int(end_s) if end_s else sf.size - 1
            else:
                start, end = max(0, sf.size - int(end_s)), sf.size - 1
        except ValueError:
            start, end = 0, -1
        end = min(end, sf.size - 1)
        if start > end or start >= sf.size:
            return Response(416, b"", [("content-range", f"bytes */{sf.size}")])
        headers.append(("content-range", f"bytes {start}-{end}/{sf.size}"))
        return Response(206, headers=headers, file=(sf.path, start, end - start + 1))
    return Response(200, headers=headers, file=(sf.path, 0, sf.size))


class StorageApi:
    def __init__(self, state: TwinState, store: FileStore) -> None:
        self.state = state
        self.store = store
        self._multipart: dict[str, _Multipart] = {}
        self._gcs_pending: dict[str, dict] = {}

    def clear(self) -> None:
        for mp in self._multipart.values():
            for path, _, _ in mp.parts.values():
                _unlink(path)
        self._multipart.clear()
        self._gcs_pending.clear()

    # ------------------------------------------------------------ rest.fal.ai
    async def token(self, req: Request) -> Response:
        _, err = fal_key(req, self.state)
        if err:
            return err
        token = secrets.token_urlsafe(24)
        expires = time.time() + float(self.state.cdn_token_ttl_seconds)
        with self.state.lock:
            self.state.cdn_tokens[token] = expires
        expires_at = dt.datetime.fromtimestamp(expires, dt.timezone.utc).isoformat()
        return json_response(
            200, {"token": token, "token_type": "Bearer", "base_url": CDN_BASE, "expires_at": expires_at}
        )

    async def storage_initiate(self, req: Request) -> Response:
        _, err = fal_key(req, self.state)
        if err:
            return err
        try:
            body = json.loads(await req.body(1 << 20) or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("file_name"), str):
            return json_response(
                422,
                {"detail": [{"type": "missing", "loc": ["body", "file_name"], "msg": "Field required", "input": body}]},
            )
        name = os.path.basename(body["file_name"]) or "upload.bin"
        file_id, sig = self.store.new_id(), secrets.token_hex(16)
        self._gcs_pending[file_id] = {
            "sig": sig,
            "name": name,
            "content_type": body.get("content_type") or "application/octet-stream",
            "file_url": self.store.cdn_url(file_id, name),
            "lifecycle": _lifecycle(req),
        }
        upload_url = f"{GCS_BASE}/{file_id}/{quote(name)}?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature={sig}"
        return json_response(200, {"upload_url": upload_url, "file_url": self._gcs_pending[file_id]["file_url"]})

    async def storage_put(self, req: Request) -> Response:
        segs = req.path.strip("/").split("/")
        pending = self._gcs_pending.get(segs[1]) if len(segs) >= 3 else None
        if pending is None or req.query.get("X-Goog-Signature") != pending["sig"]:
            return Response(
                403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>", [("content-type", "application/xml")]
            )
        path = self.store.new_path()
        size, _ = await receive_to_file(req, path)
        content_type = req.headers.get("content-type") or pending["content_type"]
        self.store.register(pending["file_url"], path, content_type, pending["lifecycle"])
        self.state.add_upload(
            UploadRecord("storage", pending["name"], content_type, size, pending["file_url"], pending["lifecycle"])
        )
        return Response(200)

    # ----------------------------------------------------------- v3.fal.media
    def _name_and_type(self, req: Request) -> tuple[str, str]:
        content_type = req.headers.get("content-type") or "application/octet-stream"
        name = os.path.basename(unquote(req.headers.get("x-fal-file-name", "")))
        if not name:
            name = "upload" + (mimetypes.guess_extension(content_type.split(";")[0].strip()) or ".bin")
        return name, content_type

    async def cdn_upload(self, req: Request) -> Response:
        err = cdn_auth(req, self.state, time.time())
        if err:
            return err
        name, content_type = self._name_and_type(req)
        lifecycle = _lifecycle(req)
        url = self.store.cdn_url(self.store.new_id(), name)
        path = self.store.new_path()
        size, _ = await receive_to_file(req, path)
        self.store.register(url, path, content_type, lifecycle)
        self.state.add_upload(UploadRecord("cdn", name, content_type, size, url, lifecycle))
        return json_response(200, {"access_url": url})

    async def multipart_initiate(self, req: Request) -> Response:
        err = cdn_auth(req, self.state, time.time())
        if err:
            return err
        name, content_type = self._name_and_type(req)
        url = self.store.cdn_url(self.store.new_id(), name)
        upload_id = secrets.token_hex(16)
        self._multipart[upload_id] = _Multipart(url, name, content_type, _lifecycle(req))
        return json_response(200, {"access_url": url, "uploadId": upload_id})

    def _find_multipart(self, req: Request, upload_id: str) -> _Multipart | None:
        mp = self._multipart.get(upload_id)
        if mp is None or _key("v3.fal.media", urlsplit(mp.url).path)[1] != unquote(req.path).split("/multipart/")[0]:
            return None
        return mp

    async def multipart_part(self, req: Request, upload_id: str, part: str) -> Response:
        err = cdn_auth(req, self.state, time.time())
        if err:
            return err
        mp = self._find_multipart(req, upload_id)
        if mp is None or mp.completed:
            return json_response(404, {"detail": "Upload not found"})
        if not part.isdigit() or not 1 <= int(part) <= 10000:
            return json_response(400, {"detail": "Invalid part number"})
        path = self.store.new_path(f".part{part}")
        size, md5 = await receive_to_file(req, path)
        etag = f'"{md5}"'
        old = mp.parts.get(int(part))
        mp.parts[int(part)] = (path, etag, size)
        if old:
            _unlink(old[0])
        return Response(200, b"", [("etag", etag)])

    async def multipart_complete(self, req: Request, upload_id: str) -> Response:
        err = cdn_auth(req, self.state, time.time())
        if err:
            return err
        mp = self._find_multipart(req, upload_id)
        if mp is None:
            return json_response(404, {"detail": "Upload not found"})
        if mp.completed:
            return json_response(200, {"access_url": mp.url})
        try:
            listed = json.loads(await req.body(8 << 20))["parts"]
            wanted = {int(p["partNumber"]): str(p["etag"]) for p in listed}
        except (ValueError, KeyError, TypeError):
            return json_response(400, {"detail": "Invalid parts list"})
        if not wanted:
            return json_response(400, {"detail": "No parts given"})
        for n, etag in wanted.items():
            have = mp.parts.get(n)
            if have is None:
                return json_response(400, {"detail": f"Part {n} was not uploaded"})
            if have[1].strip('"') != etag.strip('"'):
                return json_response(400, {"detail": f"ETag mismatch for part {n}"})
        order = [mp.parts[n][0] for n in sorted(wanted)]
        final = self.store.new_path()
        await asyncio.to_thread(_concat, order, final)
        lifecycle = mp.lifecycle
        self.store.register(mp.url, final, mp.content_type, lifecycle)
        for path, _, _ in mp.parts.values():
            _unlink(path)
        mp.parts.clear()
        mp.completed = True
        self.state.add_upload(
            UploadRecord("multipart", mp.name, mp.content_type, os.path.getsize(final), mp.url, lifecycle)
        )
        return json_response(200, {"access_url": mp.url})


def _concat(paths: list[str], dest: str) -> None:
    with open(dest, "wb") as out:
        for p in paths:
            with open(p, "rb") as src:
                shutil.copyfileobj(src, out, 4 << 20)

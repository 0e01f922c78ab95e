"""Request router of the twin: Host-based dispatch, faults, latency, logging.

Hosts served (all through the one CONNECT proxy):
``queue.fal.run``/``queue.falrun.com`` (queue API), ``fal.run``/``falrun.com``
(synchronous run: blocks until the job is done and returns its result),
``rest.fal.ai`` (CDN token, legacy storage initiate), ``v3.fal.media``
(uploads + stored files), ``storage.googleapis.com`` (signed PUTs of the
legacy fallback), ``media.example.test``/``example.com`` (the "public web":
files registered with ``FalTwin.public_url``). Anything else -> 404.

Fault kinds are matched here (``submit`` and ``cancel`` are matched inside
the queue handlers, because their reset/timeout happen after the effect).
Upload routes mark their body as uplink traffic (throttled + counted) before
any fault/auth decision, so even refused bodies cost upload time.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from .common import fault_result
from .queue import QueueApi
from .state import TwinState
from .storage import FileStore, StorageApi, serve_file
from .web import Abort, Hang, Request, Result, json_response

QUEUE_HOSTS = ("queue.fal.run", "queue.falrun.com")
RUN_HOSTS = ("fal.run", "falrun.com")
PUBLIC_HOSTS = ("media.example.test", "example.com")
_MULTIPART = re.compile(r"^/files/.+/multipart/([^/]+)/([^/]+)$")


class TwinApp:
    def __init__(self, state: TwinState, store: FileStore, storage: StorageApi, queue: QueueApi) -> None:
        self.state = state
        self.store = store
        self.storage = storage
        self.queue = queue

    async def __call__(self, req: Request) -> Result:
        result = await self._route(req)
        latency = float(self.state.latency_seconds or 0)
        if latency > 0:
            await asyncio.sleep(latency)
        status: Any = "reset" if isinstance(result, Abort) else "timeout" if isinstance(result, Hang) else result.status
        self.state.log_request(req.method, req.host, req.path, status)
        return result

    def _fault(self, kind: str, req: Request) -> Result | None:
        fault = self.state.take_fault(kind, req.path)
        return fault_result(fault) if fault is not None else None

    async def _route(self, req: Request) -> Result:
        host, method, path = req.host, req.method, req.path
        if host in QUEUE_HOSTS:
            return await self._queue(req)
        if host in RUN_HOSTS:
            if method != "POST":
                return json_response(405, {"detail": "Method Not Allowed"})
            return await self.queue.submit(req, path.strip("/"), sync=True)
        if host == "rest.fal.ai":
            if method == "POST" and path == "/storage/auth/token":
                return self._fault("token", req) or await self.storage.token(req)
            if method == "POST" and path == "/storage/upload/initiate":
                return self._fault("upload", req) or await self.storage.storage_initiate(req)
            return json_response(404, {"detail": "Not Found"})
        if host == "v3.fal.media":
            return await self._cdn(req)
        if host == "storage.googleapis.com" and method == "PUT":
            self._uplink(req)
            return self._fault("upload", req) or await self.storage.storage_put(req)
        if host in PUBLIC_HOSTS and method in ("GET", "HEAD"):
            return self._fault("download", req) or serve_file(req, self.store.lookup(host, path))
        return json_response(404, {"detail": "Not Found"})

    def _uplink(self, req: Request) -> None:
        req.uplink = True
        req.on_body_bytes = self.state.count_uploaded

    async def _cdn(self, req: Request) -> Result:
        method, path = req.method, req.path
        if method in ("GET", "HEAD") and path.startswith("/files/"):
            return self._fault("download", req) or serve_file(req, self.store.lookup(req.host, path))
        if method == "POST" and path == "/files/upload":
            self._uplink(req)
            return self._fault("upload", req) or await self.storage.cdn_upload(req)
        if method == "POST" and path == "/files/upload/multipart":
            return self._fault("upload", req) or await self.storage.multipart_initiate(req)
        m = _MULTIPART.match(path)
        if m and method == "PUT":
            self._uplink(req)
            return self._fault("upload", req) or await self.storage.multipart_part(req, m.group(1), m.group(2))
        if m and method == "POST" and m.group(2) == "complete":
            return self._fault("upload", req) or await self.storage.multipart_complete(req, m.group(1))
        return json_response(404, {"detail": "Not Found"})

    async def _queue(self, req: Request) -> Result:
        segs = [s for s in req.path.split("/") if s]
        if "requests" in segs[2:]:
            i = segs.index("requests", 2)
            app, rest = "/".join(segs[:i]), segs[i + 1 :]
            if rest and req.method == "GET" and len(rest) == 1:
                return self._fault("result", req) or await self.queue.result(req, app, rest[0])
            if len(rest) == 2 and rest[1] == "status" and req.method == "GET":
                return self._fault("status", req) or await self.queue.status(req, app, rest[0])
            if len(rest) == 3 and rest[1:] == ["status", "stream"] and req.method == "GET":
                # the stream is one of fal's two status endpoints: "status" faults apply to it as well as "stream" ones
                return (
                    self._fault("stream", req)
                    or self._fault("status", req)
                    or await self.queue.stream(req, app, rest[0])
                )
            if len(rest) == 2 and rest[1] == "cancel" and req.method == "PUT":
                return await self.queue.cancel(req, app, rest[0])
            return json_response(404, {"detail": "Not Found"})
        if req.method == "POST" and len(segs) >= 2:
            return await self.queue.submit(req, "/".join(segs))
        return json_response(404 if req.method in ("GET", "HEAD") else 405, {"detail": "Not Found"})

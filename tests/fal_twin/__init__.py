"""fal twin: a faithful local emulator of fal.ai's HTTP API for tests/benchmarks.

Usage::

    with FalTwin(queue_seconds=0.1, run_seconds=0.3) as twin:
        env = twin.env          # HTTPS_PROXY, SSL_CERT_FILE, FAL_KEY, FAL_HOME_DIR, NO_PROXY
        twin.state.add_fault("submit", "reset")
        url = twin.public_url("clip.mp4", b"...")   # https://media.example.test/clip.mp4
        twin.reset()

A real, unpatched fal_client (or any httpx/requests client honouring
HTTPS_PROXY + SSL_CERT_FILE) talks to ``queue.fal.run``, ``rest.fal.ai``,
``v3.fal.media`` ... and reaches the twin through its CONNECT proxy, which
terminates TLS with a throwaway CA (see ``certs.py``). Module map:
``state`` (records, faults, knobs), ``web`` (HTTP/1.1 + reset/hang/throttle),
``server`` (proxy + loop thread), ``app`` (routing), ``queue`` (jobs),
``schemas`` (422s), ``storage`` (uploads/files on disk), ``synth`` (PyAV).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any
from urllib.parse import quote

from .app import TwinApp
from .certs import HOSTNAMES, TwinCerts
from .queue import Job, QueueApi
from .server import TwinServer
from .state import Fault, RequestRecord, SubmitRecord, TwinState, UploadRecord
from .storage import FileStore, StorageApi
from .synth import make_clip, probe

__all__ = [
    "FalTwin",
    "Fault",
    "TwinState",
    "SubmitRecord",
    "UploadRecord",
    "RequestRecord",
    "Job",
    "HOSTNAMES",
    "make_clip",
    "probe",
    "DEFAULT_KEY",
]

DEFAULT_KEY = "twin-key"


class FalTwin:
    """Start/stop the whole twin. Constructor options = ``TwinState`` knobs:

    ``queue_seconds=0.1``, ``run_seconds=0.3``, ``latency_seconds=0.0``,
    ``uplink_bytes_per_second=None``, ``valid_keys=None`` (None: any
    non-empty key), ``forbidden_keys=None``, ``schema_overrides=None``,
    ``result_video="reencode"|"copy"``, ``validate_at="runner"|"submit"``,
    ``require_key_format=False`` (True: keys must look like ``id:secret``,
    as real fal demands), ``cdn_token_ttl_seconds=3600``,
    ``inprogress_cancel="honor"|"ignore"`` (whether a runner stops on a cancel
    signal or finishes and bills the job).
    ``key`` sets ``FAL_KEY`` in ``env`` (default "twin-key").
    """

    def __init__(self, *, key: str = DEFAULT_KEY, **options: Any) -> None:
        self.key = key
        self._options = options
        self._dir: str | None = None
        self._server: TwinServer | None = None
        self.state = TwinState(**options)

    # ----------------------------------------------------------- lifecycle
    def start(self) -> FalTwin:
        if self._server is not None:
            return self
        self._dir = tempfile.mkdtemp(prefix="fal-twin-")
        os.makedirs(os.path.join(self._dir, "files"))
        os.makedirs(os.path.join(self._dir, "fal-home"))
        self.certs = TwinCerts(self._dir)
        self.store = FileStore(os.path.join(self._dir, "files"))
        self.storage = StorageApi(self.state, self.store)
        self.queue = QueueApi(self.state, self.store, self._dir)
        self.app = TwinApp(self.state, self.store, self.storage, self.queue)
        server = TwinServer(self.app, self.certs.server_context(), lambda: self.state.uplink_bytes_per_second)
        try:
            server.start()
        except BaseException:
            self.queue.shutdown()
            shutil.rmtree(self._dir, ignore_errors=True)
            raise
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.stop()
        self.queue.shutdown()
        self._server = None
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)

    close = stop

    def __enter__(self) -> FalTwin:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -------------------------------------------------------------- access
    @property
    def proxy_url(self) -> str:
        assert self._server is not None, "twin not started"
        return f"http://127.0.0.1:{self._server.proxy_port}"

    @property
    def https_port(self) -> int:
        """Direct HTTPS listener (same service; route with a Host header)."""
        assert self._server is not None, "twin not started"
        return self._server.https_port

    @property
    def ca_pem_path(self) -> str:
        return self.certs.ca_pem_path

    @property
    def env(self) -> dict[str, str]:
        """Environment for a client process (or ``monkeypatch.setenv``)."""
        assert self._dir is not None, "twin not started"
        no_proxy = "127.0.0.1,localhost"
        return {
            "HTTPS_PROXY": self.proxy_url,
            "https_proxy": self.proxy_url,
            "SSL_CERT_FILE": self.ca_pem_path,
            "FAL_KEY": self.key,
            "FAL_HOME_DIR": os.path.join(self._dir, "fal-home"),
            "NO_PROXY": no_proxy,
            "no_proxy": no_proxy,
        }

    def reset(self) -> None:
        """Back to the constructor options: forget jobs, uploads (files are
        deleted), records, faults, failures and overrides. Files registered
        with :meth:`public_url` are kept."""
        self.state.reset()
        if self._server is not None:
            self._server.run_coroutine(self._clear_storage(), timeout=10)

    async def _clear_storage(self) -> None:
        self.storage.clear()
        self.store.clear(keep_public=True)

    def public_url(
        self,
        name: str,
        data: bytes | str | os.PathLike,
        content_type: str | None = None,
        host: str = "media.example.test",
    ) -> str:
        """Host ``data`` (bytes, or a file path: copied) at
        ``https://<host>/<name>`` and return that URL. ``host`` is one of the
        twin's "public web" hosts (``media.example.test``, ``example.com``)."""
        import mimetypes

        from .app import PUBLIC_HOSTS

        assert self._dir is not None, "twin not started"
        assert host in PUBLIC_HOSTS, f"the twin serves public files only on {PUBLIC_HOSTS}"
        path = self.store.new_path()
        if isinstance(data, (bytes, bytearray, memoryview)):
            with open(path, "wb") as f:
                f.write(data)
        else:
            shutil.copyfile(os.fspath(data), path)
        ctype = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        url = f"https://{host}/{quote(name.lstrip('/'))}"
        self.store.register(url, path, ctype, public=True)
        return url

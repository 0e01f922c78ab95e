"""TLS material for the fal twin.

Contract: :class:`TwinCerts` owns a throwaway trustme CA and one leaf
certificate whose SANs cover every hostname the twin serves (``HOSTNAMES``).
``ca_pem_path`` is a PEM file a client trusts via ``SSL_CERT_FILE``;
``server_context()`` returns a server-side ``ssl.SSLContext`` for the leaf.

The CA and leaf are generated once per process (ECDSA keys, a few ms) and
reused by every twin, so starting a twin stays cheap; each twin still writes
its own copy of the CA PEM into its private temp dir.
"""

from __future__ import annotations

import os
import ssl
import threading

import trustme

#: Every hostname the twin answers for (all routed by Host header).
#: ``storage.googleapis.com`` hosts the signed PUT URLs of the legacy
#: ``storage/upload/initiate`` fallback (real fal returns GCS signed URLs).
HOSTNAMES: tuple[str, ...] = (
    "queue.fal.run",
    "fal.run",
    "rest.fal.ai",
    "v3.fal.media",
    "queue.falrun.com",
    "falrun.com",
    "media.example.test",
    "example.com",
    "storage.googleapis.com",
    "localhost",
    "127.0.0.1",
)

_lock = threading.Lock()
_cached: tuple[trustme.CA, trustme.LeafCert] | None = None


def _ca_and_leaf() -> tuple[trustme.CA, trustme.LeafCert]:
    global _cached
    with _lock:
        if _cached is None:
            ca = trustme.CA(organization_name="fal twin test CA")
            leaf = ca.issue_cert(*HOSTNAMES, common_name="fal twin")
            _cached = (ca, leaf)
        return _cached


class TwinCerts:
    """CA + server certificate, with the CA PEM written under ``directory``."""

    def __init__(self, directory: str) -> None:
        self._ca, self._leaf = _ca_and_leaf()
        self.ca_pem_path = os.path.join(directory, "fal-twin-ca.pem")
        self._ca.cert_pem.write_to_path(self.ca_pem_path)

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._leaf.configure_cert(ctx)
        # HTTP/1.1 only: that is what httpx speaks by default (http2=False).
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """A client context trusting the twin CA (handy for raw tests)."""
        ctx = ssl.create_default_context()
        self._ca.configure_trust(ctx)
        return ctx

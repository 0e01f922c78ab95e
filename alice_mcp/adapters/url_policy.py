"""What may be fetched: the rules a video URL passes before it is handed to fal (or probed), and URL redaction.

Only ``https://`` by default; ``http://`` only when the operator sets ``ALICE_ALLOW_HTTP=true``. Every other scheme
(``file:`` is a local path and goes through :mod:`alice_mcp.adapters.read_policy`) is refused by :mod:`alice_mcp.adapters.sources`. A URL
carrying a user name or password is refused (the credentials would be handed to fal), and so is one pointing at
this machine or a private network (fal cannot reach it, and a local probe of it would be a request forgery).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from alice_mcp.data.errors import InputError

_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_URL = re.compile(r"\b([A-Za-z][A-Za-z0-9+.\-]*)://([^\s/?#'\"<>]+)[^\s'\"<>)]*")


def check_video_url(text: str, *, allow_http: bool) -> str:
    """Return ``text`` if it is an acceptable video URL; raise :class:`InputError` saying why not otherwise."""
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme == "http" and not allow_http:
        raise InputError(
            "Plain http:// URLs are not accepted (the video would travel unencrypted). Use the https:// address of "
            "the video, or download it and pass the local path. (An operator can allow http:// with "
            "ALICE_ALLOW_HTTP=true.)",
            code="url_not_allowed",
        )
    if scheme not in ("https", "http"):
        raise InputError(f"Unsupported URL scheme {scheme!r}; pass an https:// URL.", code="url_not_allowed")
    if _CONTROL.search(text):
        raise InputError(
            "The video URL contains spaces or control characters; pass the URL exactly as a browser "
            "shows it (spaces encoded as %20).",
            code="url_not_allowed",
        )
    try:
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise InputError(
            f"The URL {redact_urls(text)} is malformed (bad host or port).", code="url_not_allowed"
        ) from None
    if not host:
        raise InputError(
            f"The URL {redact_urls(text)} has no host. Pass a full https:// URL to the video.", code="url_not_allowed"
        )
    if parts.username is not None or parts.password is not None:
        raise InputError(
            "The video URL contains a user name or password, which would be handed to fal. Use a link without "
            "credentials (a pre-signed or public https:// link works).",
            code="url_not_allowed",
        )
    if _is_local_host(host):
        raise InputError(
            f"The URL points at {host}, an address on this machine or a private network, which fal cannot reach. "
            "Pass a public https:// URL, or the local path of the file.",
            code="url_not_allowed",
        )
    return text


def refuse_private_hops(request) -> None:  # type: ignore[no-untyped-def]
    """An httpx request hook for fetches of a user's URL: neither the URL nor any redirect may lead to another
    scheme, this machine or a private network (a public link redirecting inward would be a request forgery)."""
    url = request.url
    if url.scheme not in ("https", "http") or _is_local_host(url.host or ""):
        raise InputError(
            f"The video URL led to {url.scheme}://{url.host}, an address on this machine or a private network "
            "(or not a web address); alice-mcp does not fetch it. Pass a public https:// URL.",
            code="url_not_allowed",
        )


def redact_urls(text: str) -> str:
    """``text`` with every URL in it cut down to its scheme and host (for logs at info level and above)."""
    return _URL.sub(_keep_host, text)


def _keep_host(match: re.Match[str]) -> str:
    authority = match.group(2).rsplit("@", 1)[-1]  # never keep user:password@
    rest = match.group(0)[len(match.group(1)) + 3 + len(match.group(2)) :]
    return f"{match.group(1)}://{authority}" + ("/…" if rest.strip("/") else "")


def _is_local_host(host: str) -> bool:
    import ipaddress  # lazily: start-up time is benchmarked

    name = host.lower().rstrip(".")
    if name in _LOCAL_NAMES or name.endswith(_LOCAL_SUFFIXES):
        return True
    try:
        address = ipaddress.ip_address(int(name) if name.isdigit() else name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )

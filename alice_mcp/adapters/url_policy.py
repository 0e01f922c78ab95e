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
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. a bracketed host that is not an IPv6 address
        raise InputError(
            f"The URL {redact_urls(text)} is malformed (its host is not a valid name or address). Copy the link "
            "again exactly as the browser shows it.",
            code="url_not_allowed",
        ) from None
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
    try:
        if parse_host_address(host) is None:
            check_host_name(host)
    except ValueError:
        raise InputError(
            f"The URL {redact_urls(text)} is malformed: {host!r} is not a valid host name or IP address. Copy the "
            "link again exactly as the browser shows it.",
            code="url_not_allowed",
        ) from None
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


def parse_host_address(host: str):  # type: ignore[no-untyped-def]
    """The IP address ``host`` denotes, or ``None`` for a name. Every textual IPv4 form the C library accepts counts
    as the address it means (``127.1``, ``0x7f000001``, ``0177.0.0.1``, ``2130706433``), because that is what a
    connect would reach. Raises :class:`ValueError` for a bracketed/colon form that is not a valid IPv6 address."""
    import ipaddress  # lazily: start-up time is benchmarked
    import socket

    name = host.strip("[]").rstrip(".")
    if ":" in name:
        return ipaddress.IPv6Address(name.split("%", 1)[0] if re.fullmatch(r"[^%]+%[\w.\-]+", name) else name)
    try:
        return ipaddress.IPv4Address(name)
    except ValueError:
        pass
    if re.fullmatch(r"[0-9a-fA-FxX.]+", name) and re.match(r"^(0[xX][0-9a-fA-F]+|\d+)(\.|$)", name):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(name))
        except OSError:
            raise ValueError(f"{host!r} is not a valid address") from None
    return None


def is_private_address(address) -> bool:  # type: ignore[no-untyped-def]
    """True for every address fal cannot reach and a probe must never touch: loopback, private, link-local, CGNAT
    (100.64.0.0/10), unique-local, multicast, reserved, unspecified, and IPv6 forms embedding such an IPv4 address
    (mapped, NAT64, 6to4)."""
    import ipaddress

    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in ipaddress.IPv6Network("64:ff9b::/96"):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and is_private_address(embedded):
            return True
    if isinstance(address, ipaddress.IPv4Address) and address in ipaddress.IPv4Network("100.64.0.0/10"):
        return True
    return bool(
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
        or getattr(address, "is_site_local", False)
    )


def check_host_name(host: str) -> None:
    """Raise :class:`ValueError` unless ``host`` is a syntactically valid DNS name (labels of 1-63 characters,
    253 in all, IDNA-encodable)."""
    name = host.rstrip(".")
    if not name or len(name) > 253:
        raise ValueError("bad length")
    for label in name.split("."):
        if not label or len(label) > 63 or label.startswith("-") or label.endswith("-"):
            raise ValueError(f"bad label {label!r}")
        if not re.fullmatch(r"[A-Za-z0-9_\-]+", label):
            try:
                label.encode("idna")
            except UnicodeError:
                raise ValueError(f"bad label {label!r}") from None
            if any(ch in label for ch in "%/\\@[]:<>{}|^`\"' "):
                raise ValueError(f"bad label {label!r}")


def resolve_public(host: str, port: int) -> list[str]:
    """Resolve ``host`` (a name or literal) and return its addresses, refusing with :class:`InputError` when ANY
    answer is private (a name pointing at this machine or a private network). Raises :class:`OSError` when the name
    does not resolve. Connect to one of the returned addresses (never look the name up a second time)."""
    import socket

    literal = parse_host_address(host)
    if literal is not None:
        answers = [str(literal)]
    else:
        infos = socket.getaddrinfo(host.rstrip("."), port, type=socket.SOCK_STREAM)
        answers = list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))
    import ipaddress

    for answer in answers:
        if is_private_address(ipaddress.ip_address(answer)):
            raise InputError(
                f"The URL's host {host} resolves to {answer}, an address on this machine or a private network, which "
                "fal cannot reach and alice-mcp does not fetch. Pass a public https:// URL, or the local path of "
                "the file.",
                code="url_not_allowed",
            )
    if not answers:
        raise OSError("no address")
    return answers


def _is_local_host(host: str) -> bool:
    name = host.lower().strip("[]").rstrip(".")
    if name in _LOCAL_NAMES or name.endswith(_LOCAL_SUFFIXES):
        return True
    try:
        address = parse_host_address(name)
    except ValueError:
        return True  # unparseable as an address: never connect to it
    return address is not None and is_private_address(address)

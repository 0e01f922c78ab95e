"""Serve the MCP server over streamable HTTP (for agent frameworks), on the loopback interface by default.

The HTTP endpoint has no authentication: whoever can reach it can spend the operator's fal credit and make the
server upload files it may read. So a non-loopback ``host`` is refused unless the operator passes
``--allow-remote`` explicitly. Uvicorn logs through the root logger (stderr), like the rest of alice-mcp.
"""

from __future__ import annotations

import ipaddress
import logging
import sys

from alice_mcp.data.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_PATH = "/mcp"


def bind_host(host: str) -> str:
    """The address to bind for ``--host``: IPv6 may come in brackets (``[::1]``); a bracketed value must be an IPv6
    address. Raises :class:`ConfigError` for an empty or malformed host."""
    text = host.strip()
    if text.startswith("[") or text.endswith("]"):
        inner = text.strip("[]")
        try:
            return str(ipaddress.IPv6Address(inner))
        except ValueError:
            raise ConfigError(
                f"--host {host!r} is not an IPv6 address in brackets. Use e.g. --host [::1] or --host 127.0.0.1.",
                code="bad_host",
            ) from None
    if not text:
        raise ConfigError("--host is empty. Use --host 127.0.0.1 (the default).", code="bad_host")
    return text


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    """True for the all-interfaces addresses (``0.0.0.0``, ``::``)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def allowed_hosts(host: str, port: int) -> list[str]:
    """The ``Host`` header values a client may send to a server listening on ``host``:``port`` (DNS-rebinding
    protection: a browser page on another site that resolves its name to this address sends its own name).

    Loopback: the address itself, ``localhost``, ``127.0.0.1`` and ``[::1]`` (those reach a loopback listener only
    when it listens on them). A specific address or name: that address or name. All interfaces (``0.0.0.0``/``::``):
    this machine's name and its addresses, plus the loopback names.
    """
    import socket

    def with_port(name: str) -> str:
        return f"[{name}]:{port}" if ":" in name else f"{name}:{port}"

    names: list[str] = [host]
    if is_loopback(host) or is_wildcard(host):
        names += ["localhost", "127.0.0.1", "::1"]
    if is_wildcard(host):
        machine = socket.gethostname()
        names += [machine, socket.getfqdn()]
        try:
            names += [str(info[4][0]).split("%", 1)[0] for info in socket.getaddrinfo(machine, port)]
        except OSError:
            pass
    return list(dict.fromkeys(with_port(n) for n in names if n and not is_wildcard(n)))


def transport_security(host: str, port: int):  # type: ignore[no-untyped-def]
    """DNS-rebinding protection (allowed ``Host`` and ``Origin``) for every bind address, derived from it."""
    from mcp.server.transport_security import TransportSecuritySettings

    hosts = allowed_hosts(host, port)
    origins = [f"{scheme}://{h}" for h in hosts for scheme in ("http", "https")]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


def check_exposure(host: str, allow_remote: bool) -> None:
    """Refuse a non-loopback ``host`` unless ``allow_remote``: raises :class:`ConfigError` saying why."""
    if is_loopback(host) or allow_remote:
        return
    raise ConfigError(
        f"Refusing to listen on {host}: the MCP endpoint has no authentication, so anyone who can reach it could "
        "spend your fal credit and make the server upload files. Use --host 127.0.0.1 (the default), or pass "
        "--allow-remote if this network is trusted and protected by other means.",
        code="exposed",
    )


def exposure_warning(host: str, port: int, path: str) -> str:
    """What ``--allow-remote`` exposes, in words (logged at start-up)."""
    return (
        f"alice-mcp listens on {_url_host(host)}:{port}{path} WITHOUT authentication (--allow-remote). Anyone who "
        "can reach that address can: run paid fal jobs on your key (limited only by ALICE_MAX_COST_PER_CALL_USD and "
        "ALICE_DAILY_BUDGET_USD), make this server read and upload any video in its allowed folders to fal's public "
        "storage, read the job history (prompts, file names, result URLs) and write files into the output folder. "
        "Put it behind an authenticating reverse proxy or a firewall, or use the default --host 127.0.0.1."
    )


def run_http(
    host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, path: str = DEFAULT_PATH, *, allow_remote: bool = False
) -> None:
    """Serve until interrupted (Ctrl-C / SIGTERM). Raises :class:`ConfigError` for an exposed or malformed host."""
    host = bind_host(host)
    check_exposure(host, allow_remote)
    import uvicorn

    from alice_mcp.mcp.server import build_server

    server = build_server()
    app = server.streamable_http_app(
        streamable_http_path=path, host=host, transport_security=transport_security(host, port)
    )
    level = logging.getLevelName(logging.getLogger().level).lower()
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, log_level=level if level != "notset" else "info"
    )
    if not is_loopback(host):
        log.warning("%s", exposure_warning(host, port, path))
    # Printed, not logged: log lines at INFO cut every URL down to its host, and this one is for the user to copy.
    print(f"alice-mcp: MCP over streamable HTTP at {endpoint_url(host, port, path)}", file=sys.stderr, flush=True)
    uvicorn.Server(config).run()


def endpoint_url(host: str, port: int, path: str) -> str:
    """The full URL a client connects to, e.g. ``http://127.0.0.1:8765/mcp``."""
    return f"http://{_url_host(host)}:{port}{path if path.startswith('/') else '/' + path}"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host

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


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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


def run_http(
    host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, path: str = DEFAULT_PATH, *, allow_remote: bool = False
) -> None:
    """Serve until interrupted (Ctrl-C / SIGTERM). Raises :class:`ConfigError` for an exposed host."""
    check_exposure(host, allow_remote)
    import uvicorn

    from alice_mcp.mcp.server import build_server

    server = build_server()
    app = server.streamable_http_app(streamable_http_path=path, host=host)
    level = logging.getLevelName(logging.getLogger().level).lower()
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, log_level=level if level != "notset" else "info"
    )
    if not is_loopback(host):
        log.warning("listening on %s without authentication (--allow-remote)", host)
    # Printed, not logged: log lines at INFO cut every URL down to its host, and this one is for the user to copy.
    print(f"alice-mcp: MCP over streamable HTTP at {endpoint_url(host, port, path)}", file=sys.stderr, flush=True)
    uvicorn.Server(config).run()


def endpoint_url(host: str, port: int, path: str) -> str:
    """The full URL a client connects to, e.g. ``http://127.0.0.1:8765/mcp``."""
    return f"http://{_url_host(host)}:{port}{path if path.startswith('/') else '/' + path}"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host

"""Logging to stderr only: stdout belongs to JSON-RPC."""

from __future__ import annotations

import logging
import sys
import warnings


def configure_logging(level: str = "INFO") -> None:
    """Send every log record to stderr (never stdout) at ``level``; silence the SDK's deprecation chatter."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        from mcp import MCPDeprecationWarning

        warnings.filterwarnings("ignore", category=MCPDeprecationWarning)
    except ImportError:  # pragma: no cover - older SDKs
        pass

"""Logging to stderr only: stdout belongs to JSON-RPC. Log lines never carry the fal key or a full signed URL."""

from __future__ import annotations

import logging
import os
import sys
import warnings

from alice_mcp.adapters.url_policy import redact_urls


class RedactingFormatter(logging.Formatter):
    """Formats a record (message, arguments and traceback), then removes secrets from the whole line.

    The fal key (and its secret half) is replaced everywhere; at INFO and above, URLs are cut down to their host
    (signed URLs carry credentials in their query); DEBUG keeps full URLs for troubleshooting.
    """

    def __init__(self, fmt: str, secrets: list[str]) -> None:
        super().__init__(fmt)
        halves = [s.split(":", 1)[1] for s in secrets if ":" in s]
        self.secrets = sorted({s for s in [*secrets, *halves] if len(s) >= 6}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self.secrets:
            text = text.replace(secret, "[FAL_KEY]")
        if record.levelno >= logging.INFO:
            text = redact_urls(text)
        return text


def secrets_from_env() -> list[str]:
    """The secret values this process must never log: ``FAL_KEY`` and ``FAL_KEY_SECRET``."""
    return [
        value for value in ((os.environ.get(name) or "").strip() for name in ("FAL_KEY", "FAL_KEY_SECRET")) if value
    ]


def configure_logging(level: str = "INFO") -> None:
    """Send every log record to stderr (never stdout) at ``level``; silence the SDK's deprecation chatter."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets_from_env()))
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        from mcp import MCPDeprecationWarning

        warnings.filterwarnings("ignore", category=MCPDeprecationWarning)
    except ImportError:  # pragma: no cover - older SDKs
        pass

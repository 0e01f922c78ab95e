"""Secrets never leave the process: :func:`scrub` removes the fal key from any text.

The key comes from ``FAL_KEY`` (``id:secret``, or a plain key) and ``FAL_KEY_ID``/``FAL_KEY_SECRET``. The whole key,
its id and its secret are each replaced by ``[FAL_KEY]`` (parts shorter than 6 characters are left alone: they
would match ordinary words). Applied to every string that leaves the process or is stored: error messages
(:class:`~alice_mcp.data.errors.AliceError`), progress messages, ledger rows and job events, log lines.
"""

from __future__ import annotations

import os
from typing import Any

PLACEHOLDER = "[FAL_KEY]"
_NAMES = ("FAL_KEY", "FAL_KEY_ID", "FAL_KEY_SECRET")


def secret_values() -> list[str]:
    """The secret strings of this process's environment, longest first."""
    values: set[str] = set()
    for name in _NAMES:
        raw = (os.environ.get(name) or "").strip()
        if not raw:
            continue
        values.add(raw)
        if ":" in raw:
            values.update(part.strip() for part in raw.split(":", 1))
    return sorted((v for v in values if len(v) >= 6), key=len, reverse=True)


def scrub(text: str) -> str:
    """``text`` with every fal key value (whole key, id, secret) replaced by ``[FAL_KEY]``."""
    if not text:
        return text
    for secret in secret_values():
        if secret in text:
            text = text.replace(secret, PLACEHOLDER)
    return text


def scrub_value(value: Any) -> Any:
    """:func:`scrub` applied to every string inside ``value`` (dicts, lists, tuples; other values as they are)."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: scrub_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(scrub_value(v) for v in value)
    return value

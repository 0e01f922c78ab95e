"""Idempotency keys: a caller names a paid request, so a retry of it never pays twice.

:func:`check_key` refuses a malformed or overlong key (before anything is uploaded or paid); :func:`fingerprint`
is what "the same arguments" means: the tool and every argument that shapes the job, canonically encoded (how long
the call waits is not part of the job, so ``wait_seconds`` is left out). The ledger keeps key -> (tool, fingerprint,
job) (:meth:`alice_mcp.adapters.ledger.Ledger.claim_idempotency_key`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Mapping

from alice_mcp.data.errors import InputError

MAX_KEY_LENGTH = 128
_KEY = re.compile(r"[A-Za-z0-9._:\-]+")
NOT_PART_OF_THE_JOB = frozenset({"wait_seconds", "idempotency_key", "approval_id"})


def check_key(key: str | None) -> str | None:
    """``key`` if it is a usable idempotency key (1-128 of ``A-Z a-z 0-9 . _ : -``), ``None`` if absent."""
    if key is None:
        return None
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH or not _KEY.fullmatch(key):
        shown = key if isinstance(key, str) and len(key) <= 40 else f"{str(key)[:40]}… ({len(str(key))} characters)"
        raise InputError(
            f"`idempotency_key`: {shown!r} is not a usable key. Use 1 to {MAX_KEY_LENGTH} characters from A-Z, a-z, "
            "0-9 and . _ : - (a UUID works), the same key for every retry of one request. Nothing was submitted.",
            code="bad_idempotency_key",
        )
    return key


def fingerprint(tool: str, arguments: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of the tool and its job-shaping arguments (``None`` = not given, so left out)."""
    shaping = {k: v for k, v in sorted(arguments.items()) if v is not None and k not in NOT_PART_OF_THE_JOB}
    text = json.dumps({"tool": tool, "arguments": shaping}, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class IdempotencyClaim:
    """A paid call's idempotency key, with what makes two calls "the same request" (tool and fingerprint)."""

    key: str
    tool: str
    fingerprint: str


def claim_for(key: str | None, tool: str, arguments: Mapping[str, Any]) -> IdempotencyClaim | None:
    """The claim a face hands the core (``None`` without a key); raises :class:`InputError` for a bad key."""
    checked = check_key(key)
    return None if checked is None else IdempotencyClaim(checked, tool, fingerprint(tool, arguments))

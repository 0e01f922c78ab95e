"""The published tool list, kept on disk per build of the package, so that a server answers ``tools/list`` without
first building every tool.

Building a tool (its argument model, input schema and output schema, by pydantic) is most of a server's start-up.
What ``tools/list`` publishes depends only on the code: this package's files and the versions of Python, the MCP SDK
and pydantic. :func:`fingerprint` hashes exactly those, and the list is stored under that hash: any change to any of
them is a different key, so a stale list is never served. The first start of a build writes the file (atomically);
every later start reads it. A missing, unreadable or corrupt file, or a folder that cannot be written, only means
the tools are built as before: the cache never decides what is published, it only remembers it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import tempfile
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Optional

from mcp.types import Tool as MCPTool

log = logging.getLogger(__name__)

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
#: What else the published list depends on (their installed versions are part of the key).
DEPENDENCIES = ("mcp", "mcp-types", "pydantic", "pydantic-core")
CACHE_DIR_ENV = "ALICE_CACHE_DIR"


@lru_cache(maxsize=4)
def fingerprint(root: Path = PACKAGE_ROOT) -> str:
    """A hash of every file of the package under ``root`` (path and bytes; compiled files left out), the Python
    version and the installed versions of :data:`DEPENDENCIES`."""
    digest = hashlib.sha256()
    digest.update(sys.version.encode())
    for name in DEPENDENCIES:
        try:
            digest.update(f"{name}=={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name} absent".encode())
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:32]


def cache_dir() -> Path:
    """``ALICE_CACHE_DIR``, else the user's cache folder for alice-mcp."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("alice-mcp", appauthor=False))


def cache_file(key: str) -> Path:
    return cache_dir() / f"tools-{key}.json"


def load_tools(key: str) -> Optional[list[MCPTool]]:
    """The tool list stored under ``key``, or ``None`` (absent, unreadable or not a tool list)."""
    try:
        stored = json.loads(cache_file(key).read_text(encoding="utf-8"))
        if not isinstance(stored, dict) or stored.get("key") != key:
            return None
        return [MCPTool.model_validate(item) for item in stored["tools"]]
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - a damaged cache is only a slower start
        log.debug("ignoring the cached tool list", exc_info=True)
        return None


def save_tools(key: str, tools: list[MCPTool]) -> None:
    """Store ``tools`` under ``key`` (write to a temporary file, then rename: readers never see half a file)."""
    target = cache_file(key)
    payload: dict[str, Any] = {
        "key": key,
        "tools": [tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in tools],
    }
    temp: Optional[Path] = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=target.parent, delete=False, suffix=".tmp") as f:
            temp = Path(f.name)
            json.dump(payload, f)
        os.replace(temp, target)
        temp = None
        for old in target.parent.glob("tools-*.json"):  # lists of earlier builds are never read again
            if old != target:
                old.unlink(missing_ok=True)
    except OSError:
        log.debug("could not store the tool list in %s", target.parent, exc_info=True)
    finally:
        if temp is not None:
            temp.unlink(missing_ok=True)

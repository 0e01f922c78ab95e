"""The published tool list, kept on disk per build of the package, so that a server answers ``tools/list`` without
first building every tool.

Building a tool (its argument model, input schema and output schema, by pydantic) is most of a server's start-up.
What ``tools/list`` publishes depends only on the code: this package's files and the versions of Python, the MCP SDK
and pydantic. :func:`fingerprint` hashes exactly those (each file by its size and modification time, as Python does
for its ``.pyc`` files), and the list is stored under that hash: any change to any of them is a different key, so a
stale list is never served. The first start of a build writes the file (atomically);
every later start reads it. A missing, unreadable or corrupt file, or a folder that cannot be written, only means
the tools are built as before: the cache never decides what is published, it only remembers it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import sys
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from mcp.types import Tool as MCPTool

log = logging.getLogger(__name__)

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
#: The packages the published list also depends on (their installed files are part of the key).
DEPENDENCIES = ("mcp", "mcp_types", "pydantic", "pydantic_core")
CACHE_DIR_ENV = "ALICE_CACHE_DIR"


@lru_cache(maxsize=4)
def fingerprint(root: Path = PACKAGE_ROOT) -> str:
    """A hash of the Python version, the installed :data:`DEPENDENCIES` (their ``__init__`` file's path, size and
    modification time: installing or upgrading one writes it anew) and every file of the package under ``root`` by
    path, size and modification time (compiled files left out) -- the test Python itself uses to tell a stale ``.pyc``
    from its source, and cheap enough for every start (no file is read)."""
    digest = hashlib.sha256()
    digest.update(sys.version.encode())
    for name in DEPENDENCIES:  # an installed or upgraded package has new files: their size and time change
        spec = importlib.util.find_spec(name)
        origin = Path(spec.origin) if spec is not None and spec.origin else None
        stat = origin.stat() if origin is not None and origin.is_file() else None
        digest.update(f"|{name} {origin} {stat and stat.st_size} {stat and stat.st_mtime_ns}".encode())
    for path, stat in sorted(_files(root)):
        digest.update(f"|{path} {stat.st_size} {stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:32]


def build_key() -> Optional[str]:
    """:func:`fingerprint` of this package, or ``None`` when it cannot be taken (its files cannot be listed): then
    nothing is stored or read."""
    try:
        return fingerprint()
    except OSError:
        log.debug("no tool list cache: the package's files cannot be listed", exc_info=True)
        return None


def _files(root: Path, prefix: str = "") -> list[tuple[str, os.stat_result]]:
    """``(relative path, stat)`` of every file under ``root``, ``__pycache__`` folders left out."""
    found = []
    with os.scandir(root) as entries:
        for entry in entries:
            if entry.is_dir():
                if entry.name != "__pycache__":
                    found += _files(Path(entry.path), f"{prefix}{entry.name}/")
            elif entry.is_file():
                found.append((prefix + entry.name, entry.stat()))
    return found


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

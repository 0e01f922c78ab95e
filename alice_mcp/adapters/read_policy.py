"""Where alice-mcp may read: the policy every local input passes BEFORE it is opened, hashed, probed or uploaded.

An upload tool that reads any path is an exfiltration channel (a prompt-injected call can push ``~/.ssh/id_rsa`` to a
public CDN), so a local file is read only when its fully resolved path (``~``, ``..`` and symlinks resolved) is:

* inside one of the allowed folders: ``ALICE_ALLOWED_DIRS`` (``os.pathsep``-separated) or, by default, the user's
  home folder minus the platform's app-data folders (``~/Library``, ``~/AppData``), plus the output folder (our own
  results, so a generated video can be soundtracked);
* not hidden: no file or folder below the allowed folder starts with ``.`` (``~/.ssh``, ``~/.aws``, ``~/.config``…);
* not in the server's own data folder (the ledger);
* inside one of the client's MCP roots, when the client offers roots (they narrow, never widen, the allowed set);
* a regular file (no device, FIFO or socket) no larger than ``ALICE_MAX_INPUT_MB``.

Every refusal is an :class:`~alice_mcp.data.errors.InputError` that names the allowed folders and the setting to change.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional, Sequence
from urllib.parse import unquote, urlsplit

from alice_mcp.data.errors import InputError

# Platform app-data folders under home that hold keychains, cookies, mail and credentials without a leading dot.
DEFAULT_EXCLUDED_UNDER_HOME = ("Library", "AppData")


def real(path: Path | str) -> Path:
    """``path`` with ``~`` expanded and every symlink and ``..`` resolved (the file need not exist)."""
    return Path(os.path.realpath(Path(path).expanduser()))


def is_inside(child: Path, folder: Path) -> bool:
    """True when ``child`` is ``folder`` or below it (both already resolved); case-insensitive where the OS is."""
    c = os.path.normcase(str(child))
    f = os.path.normcase(str(folder)).rstrip("\\/")
    return c == f or c.startswith(f + os.sep) or (os.altsep is not None and c.startswith(f + os.altsep))


def hidden_part(child: Path, folder: Path) -> Optional[str]:
    """The first component of ``child`` below ``folder`` that starts with a dot, or ``None``."""
    try:
        parts = child.relative_to(folder).parts
    except ValueError:  # case-insensitive match on Windows: compare component counts instead
        parts = child.parts[len(folder.parts) :]
    return next((part for part in parts if part.startswith(".")), None)


@dataclass(frozen=True)
class ReadPolicy:
    """What the server may read for one call. Build it with :meth:`from_settings`; narrow it with :meth:`with_root_uris`.

    ``allowed``: resolved folders (reads must be inside one); ``own``: folders that stay readable whatever the roots
    say (the output folder); ``denied``: resolved folders never read; ``roots``: the client's roots (``None`` = the
    client offered none); ``max_bytes``: the size cap; ``allow_http``: whether ``http://`` URLs are accepted.
    """

    allowed: tuple[Path, ...]
    own: tuple[Path, ...] = ()
    denied: tuple[Path, ...] = ()
    roots: Optional[tuple[Path, ...]] = None
    max_bytes: int = 2048 * 1024 * 1024
    allow_http: bool = False
    configured: bool = field(default=False, compare=False)

    @classmethod
    def from_settings(cls, settings, output_dir: Optional[Path] = None) -> ReadPolicy:  # type: ignore[no-untyped-def]
        """The operator's policy: ``ALICE_ALLOWED_DIRS`` (else home minus app data), the output and data folders,
        ``ALICE_MAX_INPUT_MB`` and ``ALICE_ALLOW_HTTP``."""
        configured = split_dirs(settings.allowed_dirs)
        denied: list[Path] = []
        if configured:
            allowed = tuple(real(p) for p in configured)
        else:
            home = _home()
            allowed = (home,) if home is not None else ()
            if home is not None:
                denied += [home / name for name in DEFAULT_EXCLUDED_UNDER_HOME]
        try:
            denied.append(real(settings.resolved_data_dir()))
        except Exception:  # noqa: BLE001 - an unusable data dir is reported where it is used, not here
            pass
        own = (real(output_dir),) if output_dir is not None else ()
        return cls(
            allowed=allowed,
            own=own,
            denied=tuple(denied),
            max_bytes=int(settings.max_input_mb * 1024 * 1024),
            allow_http=settings.allow_http,
            configured=bool(configured),
        )

    def with_root_uris(self, uris: Optional[Sequence[str]]) -> ReadPolicy:
        """This policy narrowed to the client's MCP roots (``file://`` URIs). ``None`` (the client offers no roots)
        or an empty list narrows nothing; roots none of which is a local folder leave only the own folders."""
        if not uris:
            return self
        return replace(self, roots=tuple(real(r) for r in roots_to_paths(uris)))

    # ------------------------------------------------------------------------------------------------- checks
    def check_path(self, resolved: Path, shown: str) -> None:
        """Refuse ``resolved`` (an already resolved absolute path) unless it may be read. ``shown`` is what the
        caller passed, for the message. Touches nothing on disk."""
        for folder in self.denied:
            if is_inside(resolved, folder):
                raise InputError(
                    f"alice-mcp does not read {resolved}: it is inside {folder}, a folder that holds application data "
                    f"and credentials. {self._how_to_allow()}",
                    code="path_not_allowed",
                )
        base = next((f for f in (*self.own, *self.allowed) if is_inside(resolved, f)), None)
        if base is None:
            resolves = f" (it resolves to {resolved})" if str(resolved) != shown else ""
            raise InputError(
                f"alice-mcp may not read {shown!r}{resolves}: it is outside the folders it may read "
                f"({self.describe_allowed()}). {self._how_to_allow()}",
                code="path_not_allowed",
            )
        hidden = hidden_part(resolved, base)
        if hidden is not None:
            raise InputError(
                f"alice-mcp does not read {resolved}: {hidden!r} is a hidden file or folder, and hidden files hold "
                "keys and settings, never videos to share. Move the video to a normal (non-hidden) folder.",
                code="path_hidden",
            )
        if self.roots is not None and base not in self.own and not any(is_inside(resolved, r) for r in self.roots):
            raise InputError(
                f"alice-mcp may not read {resolved}: it is outside the folders your MCP client shared with this "
                f"server (its roots: {', '.join(map(str, self.roots))}). Open the video's folder in your client's "
                "workspace, or move the video into one of those folders.",
                code="path_outside_roots",
            )

    def check_size(self, resolved: Path, size: int) -> None:
        """Refuse a file larger than ``ALICE_MAX_INPUT_MB``."""
        if size > self.max_bytes:
            raise InputError(
                f"{resolved} is {size / 1_048_576:,.0f} MB, over this server's {self.max_bytes / 1_048_576:,.0f} MB "
                "limit for input videos. Trim the clip, or raise ALICE_MAX_INPUT_MB in the server's env block.",
                code="input_too_large",
            )

    def describe_allowed(self) -> str:
        """The allowed folders in words, for messages."""
        text = ", ".join(str(f) for f in self.allowed) or "no folders"
        if not self.configured and self.allowed:
            text += " (not its hidden folders, " + " or ".join(DEFAULT_EXCLUDED_UNDER_HOME) + ")"
        if self.own:
            text += "; the output folder " + ", ".join(str(f) for f in self.own)
        return text

    def _how_to_allow(self) -> str:
        return (
            f"To allow another folder, set ALICE_ALLOWED_DIRS (folders separated by {os.pathsep!r}) in the server's "
            "env block and restart the host, or move the video into an allowed folder."
        )


def split_dirs(raw: Optional[str]) -> list[str]:
    """The non-empty entries of an ``os.pathsep``-separated folder list."""
    if not raw:
        return []
    return [part.strip() for part in raw.split(os.pathsep) if part.strip()]


def file_uri_to_path(uri: str) -> Path:
    """Convert a ``file://`` URI to a path, including Windows drive forms (``file:///C:/x``, ``file:///c%3A/x``)
    and UNC hosts (``file://server/share/x``)."""
    parts = urlsplit(uri)
    raw = unquote(parts.path)
    host = parts.netloc
    if host and host.lower() != "localhost":
        return Path(f"//{host}{raw}")
    if re.match(r"^/[A-Za-z]:[\\/]", raw) or re.match(r"^/[A-Za-z]:$", raw):
        raw = raw[1:]
    if not raw:
        raise InputError(f"The file URI {uri!r} names no file.")
    return Path(raw)


def roots_to_paths(uris: Sequence[str]) -> list[Path]:
    """Local folders from MCP root URIs (``file://`` only, Windows drive forms included); others are skipped."""
    paths: list[Path] = []
    for uri in uris:
        if str(uri).lower().startswith("file:"):
            try:
                paths.append(file_uri_to_path(str(uri)))
            except InputError:
                continue
    return paths


def _home() -> Optional[Path]:
    try:
        return real(Path.home())
    except (RuntimeError, KeyError):  # no home folder known: only configured folders may be read
        return None

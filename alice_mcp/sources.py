"""Turn the user's ``video`` argument into a source: a remote ``https://`` URL or a local file.

Accepted forms: ``https://…`` (passed to fal as is), an absolute path, ``~/…``, a Windows path (``C:\\x\\y.mp4`` or
``C:/x/y.mp4``), and ``file://`` URIs including Windows forms (``file:///C:/…``, ``file:///c%3A/…``). Everything
else is refused with an :class:`InputError` that says what to pass instead.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .errors import InputError

_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")
_URI_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi")


@dataclass(frozen=True)
class RemoteVideo:
    """A video fal fetches itself."""

    url: str


@dataclass(frozen=True)
class LocalVideo:
    """A local regular file, resolved (``~``, ``..`` and symlinks) to an absolute path."""

    path: Path


VideoSource = RemoteVideo | LocalVideo


def parse_video_argument(video: str) -> RemoteVideo | Path:
    """Classify ``video`` without touching the file system: a :class:`RemoteVideo` or an unresolved local path."""
    text = video.strip()
    if not text:
        raise InputError("`video` is empty. Pass a local file path (absolute or ~/...), a file:// URI, or an https:// URL.")
    if "\x00" in text:
        raise InputError("`video` contains a NUL character; pass a plain path or URL.")
    if _WINDOWS_DRIVE.match(text):
        return Path(text) if os.name == "nt" else Path(text.replace("\\", "/"))
    match = _URI_SCHEME.match(text)
    if not match:
        return Path(text)
    scheme = match.group(1).lower()
    if scheme == "https":
        parts = urlsplit(text)
        if not parts.hostname:
            raise InputError(f"The URL {text!r} has no host. Pass a full https:// URL to the video.")
        return RemoteVideo(text)
    if scheme == "file":
        return file_uri_to_path(text)
    if scheme == "http":
        raise InputError(
            "Plain http:// URLs are not accepted (fal needs a publicly reachable, secure URL). "
            "Use the https:// address of the video, or download it and pass the local path."
        )
    raise InputError(
        f"Unsupported URL scheme {scheme!r} in `video`. Pass a local file path (absolute or ~/...), "
        "a file:// URI, or an https:// URL."
    )


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


def resolve_local_video(raw: Path) -> LocalVideo:
    """Resolve ``~``, relative parts and symlinks, then check it is an existing regular file.

    Raises :class:`InputError` naming the resolved path, with near matches when the file is missing.
    """
    expanded = raw.expanduser()
    if not expanded.is_absolute():
        hint = Path.home() / expanded
        suggestion = f" Did you mean {hint}?" if hint.exists() else ""
        raise InputError(
            f"The path {str(raw)!r} is relative, and this server has no meaningful working directory. "
            f"Pass an absolute path or one starting with ~/.{suggestion}"
        )
    resolved = Path(os.path.realpath(expanded))
    try:
        info = resolved.stat()
    except FileNotFoundError:
        raise InputError(f"Video not found: {resolved}.{_near_matches(resolved)}", code="not_found") from None
    except PermissionError:
        raise InputError(f"Permission denied reading {resolved}.", code="permission") from None
    except OSError as exc:
        raise InputError(f"Cannot read {resolved}: {exc.strerror or exc}.", code="unreadable") from None
    if stat.S_ISDIR(info.st_mode):
        videos = sorted(p.name for p in resolved.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)[:5]
        found = f" Videos in it: {', '.join(videos)}." if videos else ""
        raise InputError(f"{resolved} is a folder, not a video file.{found}", code="not_a_file")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{resolved} is not a regular file (a device, pipe or socket); pass a video file.", code="not_a_file")
    return LocalVideo(resolved)


def resolve_video(video: str) -> VideoSource:
    """Parse and, for local files, resolve the ``video`` argument."""
    parsed = parse_video_argument(video)
    if isinstance(parsed, RemoteVideo):
        return parsed
    return resolve_local_video(parsed)


def _near_matches(missing: Path) -> str:
    """A "did you mean" sentence for a missing file: similar names in the nearest existing folder."""
    folder = missing.parent
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    if folder != missing.parent:
        return f" The folder {missing.parent} does not exist either; the nearest existing folder is {folder}."
    try:
        names = [entry.name for entry in folder.iterdir()]
    except OSError:
        return ""
    lowered = {name.lower(): name for name in names}
    hits = difflib.get_close_matches(missing.name.lower(), list(lowered), n=3, cutoff=0.6)
    same_stem = [n for n in names if Path(n).stem.lower() == missing.stem.lower()]
    candidates = list(dict.fromkeys([*same_stem, *(lowered[h] for h in hits)]))[:3]
    if not candidates:
        return f" No similar file is in {folder}."
    return " Did you mean: " + ", ".join(str(folder / c) for c in candidates) + "?"

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
import sys
from dataclasses import dataclass
from pathlib import Path

from alice_mcp.adapters.input_files import FileIdentity, descriptor_path, open_descriptor, pin
from alice_mcp.adapters.read_policy import ReadPolicy, file_uri_to_path
from alice_mcp.adapters.url_policy import check_video_url
from alice_mcp.data.errors import InputError

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


def parse_video_argument(video: str, *, allow_http: bool = False) -> RemoteVideo | Path:
    """Classify ``video`` without touching the file system: a :class:`RemoteVideo` or an unresolved local path.

    URLs pass :func:`alice_mcp.adapters.url_policy.check_video_url` (``https://`` only unless ``allow_http``); schemes other than
    ``https``/``http``/``file`` are refused.
    """
    text = video.strip()
    if not text:
        raise InputError(
            "`video` is empty. Pass a local file path (absolute or ~/...), a file:// URI, or an https:// URL."
        )
    if "\x00" in text:
        raise InputError("`video` contains a NUL character; pass a plain path or URL.")
    if _WINDOWS_DRIVE.match(text):
        return Path(text) if os.name == "nt" else Path(text.replace("\\", "/"))
    match = _URI_SCHEME.match(text)
    if not match:
        return Path(text)
    scheme = match.group(1).lower()
    if scheme in ("https", "http"):
        return RemoteVideo(check_video_url(text, allow_http=allow_http))
    if scheme == "file":
        return file_uri_to_path(text)
    raise InputError(
        f"Unsupported URL scheme {scheme!r} in `video`. Pass a local file path (absolute or ~/...), "
        "a file:// URI, or an https:// URL.",
        code="url_not_allowed",
    )


def resolve_local_video(raw: Path, policy: ReadPolicy | None = None) -> LocalVideo:
    """Resolve ``~``, relative parts and symlinks, check the read ``policy`` (before anything on disk is touched),
    then check it is an existing regular file within the size cap.

    ``policy`` defaults to the operator's policy from the environment. Raises :class:`InputError` naming the resolved
    path, with near matches when the file is missing.
    """
    if policy is None:
        policy = _default_policy()
    expanded = raw.expanduser()
    if not expanded.is_absolute():
        if os.name != "nt" and (_WINDOWS_DRIVE.match(raw.as_posix()) or str(raw).startswith("\\\\")):
            raise InputError(
                f"{str(raw)!r} is a Windows path, but this server runs on {sys.platform}. Pass the path of the video "
                "on this machine (absolute or ~/...).",
                code="not_found",
            )
        raise InputError(
            f"The path {str(raw)!r} is relative, and this server has no meaningful working directory. "
            f"Pass an absolute path or one starting with ~/.{_home_hint(expanded, policy)}"
        )
    resolved = Path(os.path.realpath(expanded))
    policy.check_path(resolved, str(raw))
    try:  # open once, without following a last-moment symlink or blocking on a FIFO, and check what was opened
        kind = os.stat(resolved).st_mode
        if not (stat.S_ISREG(kind) or stat.S_ISDIR(kind)):  # sockets and devices are never opened
            raise InputError(
                f"{resolved} is not a regular file (a device, pipe or socket); pass a video file.", code="not_a_file"
            )
        fd, info = open_descriptor(resolved)
    except FileNotFoundError:
        raise InputError(f"Video not found: {resolved}.{_near_matches(resolved)}", code="not_found") from None
    except PermissionError:
        raise InputError(f"Permission denied reading {resolved}.", code="permission") from None
    except OSError as exc:
        raise InputError(f"Cannot read {resolved}: {exc.strerror or exc}.", code="unreadable") from None
    try:
        opened = descriptor_path(fd)
    finally:
        os.close(fd)
    if opened is not None and opened != resolved:  # the path changed between resolving and opening
        policy.check_path(opened, str(raw))
    if stat.S_ISDIR(info.st_mode):
        videos = sorted(
            p.name for p in resolved.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and not p.name.startswith(".")
        )[:5]
        found = f" Videos in it: {', '.join(videos)}." if videos else ""
        raise InputError(f"{resolved} is a folder, not a video file.{found}", code="not_a_file")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(
            f"{resolved} is not a regular file (a device, pipe or socket); pass a video file.", code="not_a_file"
        )
    pin(opened or resolved, FileIdentity.of(info))
    policy.check_size(resolved, info.st_size)
    return LocalVideo(opened or resolved)


def resolve_video(video: str, policy: ReadPolicy | None = None) -> VideoSource:
    """Parse and check the ``video`` argument against ``policy`` (default: the operator's, from the environment):
    URLs against the URL rules, local files against the read policy."""
    if policy is None:
        policy = _default_policy()
    parsed = parse_video_argument(video, allow_http=policy.allow_http)
    if isinstance(parsed, RemoteVideo):
        return parsed
    return resolve_local_video(parsed, policy)


def _default_policy() -> ReadPolicy:
    """The operator's read policy when a caller passes none (never "read anything")."""
    from alice_mcp.adapters.settings import load_settings

    settings = load_settings()
    try:
        output_dir = settings.resolved_output_dir()
    except Exception:  # noqa: BLE001 - a bad output setting is reported where outputs are written
        output_dir = None
    return ReadPolicy.from_settings(settings, output_dir)


def _home_hint(relative: Path, policy: ReadPolicy) -> str:
    """ " Did you mean ~/x?" when the relative path names a readable file under home (checked by the policy first)."""
    try:
        hint = Path(os.path.realpath(Path.home() / relative))
        policy.check_path(hint, str(hint))
    except (InputError, RuntimeError, KeyError):
        return ""
    return f" Did you mean {hint}?" if hint.exists() else ""


def _near_matches(missing: Path) -> str:
    """A "did you mean" sentence for a missing file: similar names in the nearest existing folder."""
    folder = missing.parent
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    if folder != missing.parent:
        return f" The folder {missing.parent} does not exist either; the nearest existing folder is {folder}."
    try:
        names = [entry.name for entry in folder.iterdir() if not entry.name.startswith(".")]
    except OSError:
        return ""
    lowered = {name.lower(): name for name in names}
    hits = difflib.get_close_matches(missing.name.lower(), list(lowered), n=3, cutoff=0.6)
    same_stem = [n for n in names if Path(n).stem.lower() == missing.stem.lower()]
    candidates = list(dict.fromkeys([*same_stem, *(lowered[h] for h in hits)]))[:3]
    if not candidates:
        return f" No similar file is in {folder}."
    return " Did you mean: " + ", ".join(str(folder / c) for c in candidates) + "?"

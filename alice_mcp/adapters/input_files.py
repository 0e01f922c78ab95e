"""The file that was checked is the file that is read: checked opens of local inputs.

:func:`~alice_mcp.adapters.sources.resolve_local_video` opens an input once (``O_NOFOLLOW``, non-blocking so a FIFO
never hangs), checks the open descriptor (a regular file; its real path, read back from the descriptor, passes the
read policy) and pins the file's identity (device and inode) under its resolved path with :func:`pin`. Every later
read of that path (probe, cut, proxy, finish, the private copy that is uploaded) goes through :func:`open_checked`,
which refuses a path that now leads to another file: a folder swapped for a symlink, a file replaced after the check.

Hard links: a hard link IS the file (same inode), so a link placed inside an allowed folder to a file outside it
reads that file. The policy cannot tell where a file's other names are, and refusing every file with more than one
link would refuse legitimate files, so it does not; see the README's Safety section.
"""

from __future__ import annotations

import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from alice_mcp.data.errors import InputError

_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
_PINNED: dict[str, FileIdentity] = {}
_PIN_LOCK = threading.Lock()


@dataclass(frozen=True)
class FileIdentity:
    """What makes a file the same file: its device and inode."""

    device: int
    inode: int

    @classmethod
    def of(cls, info: os.stat_result) -> FileIdentity:
        return cls(info.st_dev, info.st_ino)


def open_descriptor(path: Path) -> tuple[int, os.stat_result]:
    """Open ``path`` for reading without following a final symlink or blocking on a FIFO; return the descriptor and
    its ``fstat``. Raises :class:`OSError` (the caller words it)."""
    fd = os.open(str(path), _FLAGS)
    try:
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode) and hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return fd, info
    except BaseException:
        os.close(fd)
        raise


def descriptor_path(fd: int) -> Optional[Path]:
    """The real path of an open descriptor, read from the OS (Linux ``/proc``, macOS ``F_GETPATH``); ``None``
    where the OS cannot say."""
    try:
        return Path(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        pass
    try:
        import fcntl

        getpath = getattr(fcntl, "F_GETPATH", None)
        if getpath is not None:
            raw = fcntl.fcntl(fd, getpath, b"\0" * 1024)
            return Path(raw.split(b"\0", 1)[0].decode())
    except (OSError, ImportError, UnicodeDecodeError):
        pass
    return None


def pin(path: Path, identity: FileIdentity) -> None:
    """Remember that ``path`` (resolved) was checked and is the file ``identity``."""
    with _PIN_LOCK:
        _PINNED[str(path)] = identity


def pinned(path: Path) -> Optional[FileIdentity]:
    with _PIN_LOCK:
        return _PINNED.get(str(path))


def open_checked(path: Path) -> int:
    """A read descriptor for ``path``: a regular file, opened without following a final symlink, and (when ``path``
    was checked by the read policy) the very file that was checked. Raises :class:`InputError`; the caller closes
    the descriptor."""
    try:
        fd, info = open_descriptor(path)
    except OSError as exc:
        raise InputError(
            f"{path} can no longer be read ({exc.strerror or exc}): it was moved, replaced by a link or removed "
            "after it was checked. Pass the video again.",
            code="input_changed",
        ) from None
    expected = pinned(path)
    if not stat.S_ISREG(info.st_mode) or (expected is not None and FileIdentity.of(info) != expected):
        os.close(fd)
        raise InputError(
            f"{path} changed after it was checked (it now leads to a different file): alice-mcp reads only the file "
            "it checked. Pass the video again.",
            code="input_changed",
        )
    return fd


def private_copy(path: Path, dest: Path) -> Path:
    """Copy the checked file at ``path`` into ``dest`` (a private work file) through one checked descriptor."""
    import shutil

    fd = open_checked(path)
    with os.fdopen(fd, "rb") as source, open(dest, "wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)
    return dest

"""Where results are written: the output folder, unique names, and atomic publication.

Contract: a result appears in the output folder only complete, under a name no other file had (never overwriting),
via a hidden temporary file in the same folder and an atomic link/rename. A failed write leaves nothing behind.

Publishing is idempotent for a job that records it (:func:`publishing_for`): the name a file is about to be published
under, with its size, mtime and inode, is recorded BEFORE the link. A recovery that publishes the same wanted path
again (after a kill between publishing and recording "completed", or after another process took the job over) finds
that file, checks it is the very file that was published, and returns it instead of writing a second copy.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import errno
import os
import re
import secrets
import signal
import stat
import tempfile
from pathlib import Path
from typing import Callable, Iterator, Optional

from alice_mcp.adapters import scratch
from alice_mcp.data.errors import InputError, OutputError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
TEMP_PREFIX = ".alice-partial-"

#: Test hook (the only one): a process with this set to a folder stops itself (SIGSTOP) right after publishing a file
#: into that folder, so a test can kill or freeze it in the window between publishing and recording "completed".
STOP_AFTER_PUBLISH_ENV = "ALICE_TEST_STOP_AFTER_PUBLISH"


@dataclasses.dataclass(frozen=True)
class PublishJournal:
    """Where a job keeps what it published, keyed by the wanted path: ``recorded(wanted)`` returns the claim stored
    by ``record(wanted, claim)`` (a dict: path, size, mtime_ns, inode). ``record`` must be durable when it returns."""

    recorded: Callable[[str], Optional[dict]]
    record: Callable[[str, dict], None]


_journal: contextvars.ContextVar[Optional[PublishJournal]] = contextvars.ContextVar("alice_publish", default=None)


@contextlib.contextmanager
def publishing_for(journal: PublishJournal) -> Iterator[None]:
    """Every :func:`publish` inside (this task, and the worker threads it starts) records into ``journal`` and
    adopts a file it already published."""
    token = _journal.set(journal)
    try:
        yield
    finally:
        _journal.reset(token)


def ensure_output_dir(folder: Path) -> Path:
    """Create ``folder`` if needed and prove it is writable; raises :class:`OutputError` before anything is paid."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=TEMP_PREFIX, delete=True):
            pass
    except OSError as exc:
        reason = "it is on a read-only file system" if exc.errno == errno.EROFS else (exc.strerror or str(exc))
        raise OutputError(
            f"The output folder {folder} is not writable ({reason}). Set ALICE_OUTPUT_DIR to a folder you can write "
            "to, in the server's env block, and restart the host.",
            code="output_not_writable",
        ) from None
    return folder.resolve()


def safe_stem(name: str, fallback: str = "video") -> str:
    """A file-name-safe stem (ASCII letters, digits, ``._-``), at most 60 characters."""
    stem = _UNSAFE.sub("-", name).strip("-.")[:60]
    return stem or fallback


def output_name(*parts: str, suffix: str, fallback: str = "audio") -> str:
    """The default file name of a result: its non-empty ``parts`` made file-name safe, joined by ``-``, plus
    ``suffix`` (e.g. ``output_name("tavern", "ambience", "seed42", suffix=".mp4")`` -> ``tavern-ambience-seed42.mp4``).
    The one place the naming rule lives."""
    stems = [stem for stem in (safe_stem(part, "") for part in parts if part) if stem]
    return ("-".join(stems) or fallback) + suffix


def target_path(folder: Path, output_path: str | None, default_name: str) -> Path:
    """The wanted path of a result inside ``folder``.

    ``output_path`` may be a bare file name, a path relative to the output folder, or an absolute path inside it.
    Anything resolving outside the folder is refused (results are only ever written there).
    """
    if not output_path:
        return folder / default_name
    if "\x00" in output_path:
        raise InputError(
            "output_path contains a NUL character; give a plain file name such as 'tavern.mp4'.", code="output_bad_name"
        )
    too_long = next(
        (part for part in Path(output_path).parts if len(part.encode("utf-8", "surrogateescape")) > 255), None
    )
    if too_long is not None or len(output_path) > 1024:
        raise InputError(
            f"output_path is too long ({'a name of ' + str(len(too_long)) + ' characters' if too_long else str(len(output_path)) + ' characters'}; "
            "file systems allow 255 bytes per name). Give a shorter file name.",
            code="output_bad_name",
        )
    wanted = Path(output_path).expanduser()
    candidate = wanted if wanted.is_absolute() else folder / wanted
    resolved = Path(os.path.realpath(candidate))
    if resolved == folder or resolved.is_dir():  # a folder: the result goes inside it under its default name
        resolved = resolved / default_name
    elif resolved.suffix == "":
        resolved = resolved.with_suffix(Path(default_name).suffix)
    if folder not in resolved.parents:
        raise InputError(
            f"output_path {output_path!r} resolves to {resolved}, outside the output folder {folder}. "
            "Give a file name (or a path inside that folder), or change ALICE_OUTPUT_DIR.",
            code="output_outside",
        )
    hidden = next((part for part in resolved.relative_to(folder).parts if part.startswith(".")), None)
    if hidden is not None:
        raise InputError(
            f"output_path {output_path!r} names a hidden file or folder ({hidden!r}); give a path whose parts do not "
            "start with a dot.",
            code="output_hidden",
        )
    return resolved


def output_error(exc: OSError, folder: Path) -> OutputError:
    """A plain sentence for a failure to write a result into ``folder`` (full, read-only, removed, no permission).
    A paid result stays at fal and in the ledger: the message says how to get it once the cause is fixed."""
    code = exc.errno
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        reason = "the disk is full (or your quota is used up)"
        fix = "Free some space"
    elif code in (errno.EROFS, errno.EACCES, errno.EPERM):
        reason = "it is read-only or not writable for this server"
        fix = "Make it writable (or set ALICE_OUTPUT_DIR to a writable folder and restart the host)"
    elif code in (errno.ENOENT, errno.ENOTDIR):
        reason = "the folder was removed or moved while the job ran"
        fix = "Create the folder again"
    elif code == errno.ENAMETOOLONG:
        reason = "the file name is too long for this file system"
        fix = "Ask again with a shorter output_path"
    else:
        reason = exc.strerror or type(exc).__name__
        fix = "Fix the folder"
    return OutputError(
        f"The result could not be written to {folder}: {reason}. {fix}, then call get_generation with the job id: "
        "the paid result is kept at fal and is fetched again without paying twice.",
        code="output_write_failed",
    )


def _private_outputs() -> bool:
    """``ALICE_PRIVATE_OUTPUTS`` set to a true value: results are readable by their owner only (600)."""
    return (os.environ.get("ALICE_PRIVATE_OUTPUTS") or "").strip().lower() in ("1", "true", "yes", "on")


@contextlib.contextmanager
def partial_file(folder: Path, suffix: str) -> Iterator[Path]:
    """A hidden temporary path in ``folder``; it is removed on exit unless it was published (renamed away)."""
    path = folder / f"{TEMP_PREFIX}{secrets.token_hex(6)}{suffix}"
    with scratch.writing():
        try:
            try:
                folder.mkdir(parents=True, exist_ok=True)  # a subfolder output_path named (checked inside the folder)
                yield path
            except OSError as exc:
                raise output_error(exc, folder) from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def publish(temp: Path, wanted: Path) -> Path:
    """Move ``temp`` to ``wanted``, or to ``stem-2.ext``, ``stem-3.ext``… if taken. Never overwrites.

    Uses a hard link (atomic, fails if the name exists) and falls back to an exclusive create + rename on file
    systems without hard links. Returns the final path. Inside :func:`publishing_for`, a file this job already
    published for ``wanted`` (same size, mtime and inode as recorded) is returned instead, and ``temp`` discarded.
    """
    journal = _journal.get()
    try:
        if journal is not None:
            adopted = _published_before(journal.recorded(str(wanted)))
            if adopted is not None:
                temp.unlink(missing_ok=True)
                return adopted
        wanted.parent.mkdir(parents=True, exist_ok=True)
        if _private_outputs():
            os.chmod(temp, 0o600)
        final = _publish(temp, wanted, journal)
    except OSError as exc:
        raise output_error(exc, wanted.parent) from exc
    stop_in = os.environ.get(STOP_AFTER_PUBLISH_ENV)
    if stop_in and final.parent.resolve() == Path(stop_in).resolve():
        os.kill(os.getpid(), signal.SIGSTOP)
    return final


def _published_before(claim: Optional[dict]) -> Optional[Path]:
    """The file a claim names, if it is still exactly the file that was published (not a later file by that name)."""
    if not claim or not isinstance(claim.get("path"), str):
        return None
    path = Path(claim["path"])
    try:
        st = os.lstat(path)
    except OSError:
        return None
    same = (st.st_size, st.st_mtime_ns, st.st_ino) == (claim.get("size"), claim.get("mtime_ns"), claim.get("inode"))
    return path if stat.S_ISREG(st.st_mode) and same else None


def _published_meanwhile(journal: Optional[PublishJournal], wanted: Path, temp: Path) -> Optional[Path]:
    """The name was taken between the check and the link: if a process that took this job over published it (its
    claim is recorded), that file is the result and ``temp`` is dropped."""
    if journal is None:
        return None
    adopted = _published_before(journal.recorded(str(wanted)))
    if adopted is not None:
        temp.unlink(missing_ok=True)
    return adopted


def _publish(temp: Path, wanted: Path, journal: Optional[PublishJournal] = None) -> Path:
    for attempt in range(1, 1000):
        final = wanted if attempt == 1 else wanted.with_name(f"{wanted.stem}-{attempt}{wanted.suffix}")
        if journal is not None:
            if os.path.lexists(final):
                continue
            st = os.stat(temp)  # the link (or the rename below) keeps size, mtime and inode: the file's identity
            claim = {"path": str(final), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}
            journal.record(str(wanted), claim)  # before the file appears: a recovery can always find it
        try:
            os.link(temp, final)
        except FileExistsError:
            adopted = _published_meanwhile(journal, wanted, temp)
            if adopted is not None:
                return adopted
            continue
        except OSError:
            try:
                fd = os.open(final, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                adopted = _published_meanwhile(journal, wanted, temp)
                if adopted is not None:
                    return adopted
                continue
            os.close(fd)
            os.replace(temp, final)
            return final
        temp.unlink()
        return final
    raise OutputError(f"Could not find a free file name for {wanted} (1000 versions exist).")

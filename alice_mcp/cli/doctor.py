"""``alice-mcp doctor``: is this machine set up to generate? Offline checks only (nothing is uploaded or paid).

:func:`run_checks` reads the settings, looks at the key, the output and data folders and PyAV's codecs, and returns
a :class:`DoctorReport`. It never creates folders and never shows any part of the API key. Blocking (PyAV import,
file system): call it from a thread in async code.
"""

from __future__ import annotations

import platform
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Literal

from pydantic import BaseModel, Field

from alice_mcp import __version__
from alice_mcp.data.errors import AliceError

if TYPE_CHECKING:
    from alice_mcp.media.capabilities import CodecMode

Level = Literal["ok", "warning", "problem"]

# (codec, mode, why): decoders for the inputs people bring, encoders for what the media pipeline writes.
CODECS: tuple[tuple[str, CodecMode, str], ...] = (
    ("h264", "r", "read H.264 clips (most mp4/mov)"),
    ("hevc", "r", "read H.265 clips (iPhone)"),
    ("vp9", "r", "read VP9 clips (webm)"),
    ("av1", "r", "read AV1 clips"),
    ("aac", "r", "read AAC audio"),
    ("flac", "r", "read FLAC audio (text-to-audio results)"),
    ("libx264", "w", "write H.264 (proxies)"),
    ("aac", "w", "write AAC audio (mp4/mov)"),
    ("libopus", "w", "write Opus audio (webm)"),
    ("flac", "w", "write FLAC audio"),
)


class Check(BaseModel):
    name: str
    level: Level
    detail: str


class DoctorReport(BaseModel):
    """Every check; ``ok`` is False when any check found a problem (warnings do not count)."""

    ok: bool
    version: str
    python: str
    checks: list[Check] = Field(default_factory=list)


def run_checks() -> DoctorReport:
    """Run every check and return the report; never raises for a broken setup (that is what it reports)."""
    checks: list[Check] = []
    settings = _settings(checks)
    if settings is not None:
        checks.append(_key_check(settings))
        checks.append(_folder_check("output folder", settings.resolved_output_dir, "ALICE_OUTPUT_DIR", required=True))
        checks.append(_folder_check("data folder", settings.resolved_data_dir, "ALICE_DATA_DIR", required=False))
        checks.append(_ledger_check(settings))
        checks.append(_prices_check(settings.price_overrides))
        checks.append(_read_policy_check(settings))
        checks.append(
            Check(
                name="logs",
                level="ok",
                detail=(
                    f"written to stderr at level {settings.log_level.upper()} (ALICE_LOG_LEVEL). Claude Desktop keeps them in "
                    "mcp-server-alice-mcp.log (macOS: ~/Library/Logs/Claude/, Windows: %APPDATA%\\Claude\\logs\\)."
                ),
            )
        )
    checks.extend(_media_checks())
    return DoctorReport(
        ok=not any(c.level == "problem" for c in checks),
        version=__version__,
        python=f"{platform.python_version()} ({sys.executable})",
        checks=checks,
    )


def _settings(checks: list[Check]):  # type: ignore[no-untyped-def]
    from alice_mcp.adapters.settings import load_settings

    try:
        settings = load_settings()
    except AliceError as exc:
        checks.append(Check(name="settings", level="problem", detail=exc.message))
        return None
    checks.append(Check(name="settings", level="ok", detail="environment settings are valid"))
    return settings


def _key_check(settings) -> Check:  # type: ignore[no-untyped-def]
    try:
        settings.require_fal_key()
    except AliceError as exc:
        return Check(name="FAL_KEY", level="problem", detail=f"{exc.message} For the command line: export FAL_KEY=...")
    return Check(name="FAL_KEY", level="ok", detail="set (not checked against fal: doctor makes no network calls)")


def _folder_check(name: str, resolve: Callable[[], Path], variable: str, *, required: bool) -> Check:
    try:
        folder = resolve()
    except AliceError as exc:
        return Check(name=name, level="problem", detail=exc.message)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    writable = _can_write(existing) if existing.is_dir() else False
    if writable and existing == folder:
        return Check(name=name, level="ok", detail=f"{folder} (writable)")
    if writable:
        return Check(name=name, level="ok", detail=f"{folder} (will be created on first use)")
    level: Level = "problem" if required else "warning"
    return Check(
        name=name, level=level, detail=f"{folder} is not writable; set {variable} to a folder you can write to."
    )


def _ledger_check(settings) -> Check:  # type: ignore[no-untyped-def]
    """Where the job ledger is; it is not opened (doctor never creates or locks it)."""
    try:
        path = settings.ledger_path()
    except AliceError as exc:
        return Check(name="job ledger", level="problem", detail=exc.message)
    state = f"{path.stat().st_size // 1024} kB" if path.is_file() else "not created yet: made by the first job"
    return Check(name="job ledger", level="ok", detail=f"{path} ({state}); `alice-mcp jobs` lists what it holds")


def _can_write(folder: Path) -> bool:
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".alice-doctor-"):
            return True
    except OSError:
        return False


def _prices_check(raw: str | None) -> Check:
    from alice_mcp.data.prices import PriceTable, parse_overrides
    from alice_mcp.engine.recipes.registry import published_prices

    try:
        overrides = parse_overrides(raw)
    except AliceError as exc:
        return Check(name="prices", level="problem", detail=exc.message)
    table = PriceTable(published_prices(), overrides)
    each = "; ".join(
        f"{endpoint} {table.rule(endpoint).describe()}" + (" (ALICE_PRICE_OVERRIDES)" if endpoint in overrides else "")
        for endpoint in published_prices()
    )
    return Check(name="prices", level="ok", detail=each)


def _read_policy_check(settings) -> Check:  # type: ignore[no-untyped-def]
    """Which folders local videos may be read from (the same policy every face applies; MCP roots narrow it)."""
    from alice_mcp.adapters.read_policy import ReadPolicy

    try:
        policy = ReadPolicy.from_settings(settings, settings.resolved_output_dir())
    except AliceError as exc:
        return Check(name="read policy", level="problem", detail=exc.message)
    source = "ALICE_ALLOWED_DIRS" if policy.configured else "the default; ALICE_ALLOWED_DIRS changes it"
    urls = "https:// and http:// URLs" if policy.allow_http else "https:// URLs (ALICE_ALLOW_HTTP=true adds http://)"
    return Check(
        name="read policy",
        level="ok" if policy.allowed or policy.own else "warning",
        detail=(
            f"local videos may be read from {policy.describe_allowed()} ({source}), up to "
            f"{policy.max_bytes / 1_048_576:,.0f} MB each (ALICE_MAX_INPUT_MB); {urls}. "
            "An MCP client's roots narrow this further."
        ),
    )


def _media_checks() -> list[Check]:
    from alice_mcp.media.capabilities import media_capabilities

    caps = media_capabilities([(codec, mode) for codec, mode, _ in CODECS])
    if caps.error is not None:  # pragma: no cover - av is a dependency
        return [
            Check(name="PyAV", level="problem", detail=f"PyAV cannot be imported ({caps.error}); reinstall alice-mcp.")
        ]
    checks = [
        Check(
            name="PyAV",
            level="ok",
            detail=f"PyAV {caps.pyav_version} with FFmpeg {caps.ffmpeg_version} (no system ffmpeg needed)",
        )
    ]
    have, missing = [], []
    for codec, mode, why in CODECS:
        label = f"{codec} ({'decode' if mode == 'r' else 'encode'})"
        if (codec, mode) in caps.available:
            have.append(label)
        else:
            missing.append(f"{label}: needed to {why}")
    checks.append(Check(name="codecs", level="ok", detail="available: " + ", ".join(have)))
    if missing:
        checks.append(Check(name="missing codecs", level="warning", detail="; ".join(missing)))
    return checks


def render_text(report: DoctorReport) -> str:
    """The report as aligned lines for a terminal."""
    marks = {"ok": "ok", "warning": "WARN", "problem": "FAIL"}
    lines = [f"alice-mcp {report.version}, Python {report.python}"]
    width = max(len(c.name) for c in report.checks)
    lines += [f"  [{marks[c.level]:>4}] {c.name:<{width}}  {c.detail}" for c in report.checks]
    lines.append("All good." if report.ok else "Problems found: fix the FAIL lines above.")
    return "\n".join(lines)

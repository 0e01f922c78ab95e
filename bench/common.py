"""Shared bench plumbing: the fal twin, media made with PyAV, a long-lived alice-mcp stdio server, statistics.

Run benches from the repository root (``python bench/<name>.py``); they import ``tests.fal_twin`` and ``tests.media``.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Iterable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mcp import Client, StdioServerParameters  # noqa: E402

BENCH_KEY = "bench-key"


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def apply_twin_env(twin: Any) -> None:
    """Point this process's fal_client/httpx at the twin (for the naive path running in-process)."""
    os.environ.update(twin.env)
    os.environ["FAL_KEY"] = BENCH_KEY


def alice_env(twin: Any, workdir: Path, **extra: str) -> dict[str, str]:
    """Environment for an alice-mcp server process talking to the twin."""
    return {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL")},
        **twin.env,
        "FAL_KEY": BENCH_KEY,
        "HOME": str(workdir / "home"),
        "ALICE_OUTPUT_DIR": str(workdir / "out"),
        "ALICE_DATA_DIR": str(workdir / "data"),
        "ALICE_LOG_LEVEL": "WARNING",
        **extra,
    }


@asynccontextmanager
async def alice_session(env: dict[str, str]) -> AsyncIterator[Client]:
    """A long-lived alice-mcp server process (``python -m alice_mcp``) and a connected legacy-era client."""
    params = StdioServerParameters(command=sys.executable, args=["-m", "alice_mcp"], env=env)
    async with Client(params, mode="legacy", read_timeout_seconds=600) as client:
        yield client


def summary(values: Iterable[float]) -> dict[str, float]:
    data = sorted(values)
    return {"median": statistics.median(data), "min": data[0], "max": data[-1], "n": len(data)}


def fmt_s(stats: dict[str, float]) -> str:
    return f"{stats['median']:.3f} s [{stats['min']:.3f}–{stats['max']:.3f}] n={stats['n']}"


def peak_rss_mb(pid: int) -> float:
    """A live process's peak resident set size (VmHWM) in MB."""
    return _status_mb(pid, "VmHWM:")


def rss_mb(pid: int) -> float:
    """A live process's current resident set size (VmRSS) in MB."""
    return _status_mb(pid, "VmRSS:")


def _status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return float("nan")


def figure(
    key: str,
    what: str,
    alice: list[float],
    baseline: list[float] | None = None,
    *,
    unit: str,
    target: str,
    met: bool | None,
    ratio: float | None = None,
) -> dict[str, Any]:
    """One row of the report: alice-mcp's runs and its baseline's, summarised; ``ratio`` defaults to the medians'.

    ``met`` is None where the figure has no target (shown for comparison only).
    """
    mine = summary(alice)
    base = summary(baseline) if baseline else None
    if ratio is None and base and base["median"]:
        ratio = mine["median"] / base["median"]
    return {
        "id": key,
        "what": what,
        "unit": unit,
        "alice": mine,
        "baseline": base,
        "ratio": ratio,
        "target": target,
        "met": met,
    }

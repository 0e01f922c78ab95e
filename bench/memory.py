"""P3 memory: peak RSS of the alice-mcp server process for ~95 MB and ~1 GB inputs, and of the naive path for 95 MB.

    python bench/memory.py [--runs 3] [--keep DIR] [--tiny]

The inputs are cut or looped, by stream copy (cheap: no encoding), from bench/media.py's 60 s 1080p clip: ~95 MB
(about 47 s) and ~1 GB (about 8 minutes; alice-mcp is asked for 30 s from the middle, ``start_time``). alice-mcp runs
as a fresh stdio server per call; its peak RSS is the server process's VmHWM. The naive path (bench/naive.py) runs in
its own process for the same reason, and reports its own VmHWM. The twin's uplink is not throttled here: memory, not
time, is measured. Target: ≤ 200 MB for any input size (the reference saw the naive path at ~505 MB for 95 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

from common import BENCH_KEY, figure, machine
from media import bench_clips, make_sized_clip, run_upload_scenario

BENCH_DIR = Path(__file__).resolve().parent
TARGET_MB = 200.0


def _seconds(path: Path) -> float:
    import av

    with av.open(str(path)) as container:
        return container.duration / 1_000_000


def _describe(path: Path) -> str:
    """e.g. "95 MB 1080p, 47 s" or "1000 MB 1080p, 8 min"."""
    import av

    with av.open(str(path)) as container:
        height = container.streams.video[0].height
    seconds = _seconds(path)
    length = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
    return f"{path.stat().st_size / 1e6:.0f} MB {height}p, {length}"


def run_naive_process(twin: Any, clip: Path, workdir: Path, duration: float) -> dict:
    """bench/naive.py in its own process against ``twin``; returns its JSON (timings, idle and peak RSS)."""
    env = {**{k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL")}, **twin.env, "FAL_KEY": BENCH_KEY}
    command = [
        sys.executable,
        str(BENCH_DIR / "naive.py"),
        str(clip),
        str(workdir / f"naive-{clip.stem}.mp4"),
        "--duration",
        f"{duration:g}",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode:
        raise RuntimeError(f"naive path failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def inputs(media_dir: Path, tiny: bool) -> tuple[Path, Path]:
    """The (~95 MB, ~1 GB) inputs, or (~2 MB, ~10 MB) when ``tiny``; made once per ``media_dir``."""
    label, source, _ = bench_clips(media_dir, tiny)[0]
    small, big = (2_000_000, 10_000_000) if tiny else (95_000_000, 1_000_000_000)
    return (
        make_sized_clip(media_dir / f"sized-{small}.mp4", source, small),
        make_sized_clip(media_dir / f"sized-{big}.mp4", source, big),
    )


async def measure(media_dir: Path, tiny: bool, runs: int) -> dict:
    """alice-mcp on both inputs and the naive path on the smaller, interleaved, ``runs`` times."""
    from tests.fal_twin import FalTwin

    small, big = inputs(media_dir, tiny)
    big_start = int(_seconds(big) // 2)
    small_duration = min(30.0, _seconds(small))
    found: dict[str, list[dict]] = {"alice_small": [], "naive_small": [], "alice_big": []}
    with tempfile.TemporaryDirectory() as tmp, FalTwin(queue_seconds=0, run_seconds=0.2, result_video="copy") as twin:
        work = Path(tmp)
        for run in range(runs):
            steps = [
                ("alice_small", lambda w: run_upload_scenario(twin, small, w)),
                ("naive_small", lambda w: asyncio.to_thread(run_naive_process, twin, small, w, small_duration)),
            ]
            for name, call in steps if run % 2 == 0 else steps[::-1]:
                folder = work / f"run{run}-{name}"
                folder.mkdir()
                found[name].append(await call(folder))
            folder = work / f"run{run}-alice_big"
            found["alice_big"].append(await run_upload_scenario(twin, big, folder, arguments={"start_time": big_start}))
            twin.reset()
    return {"small": small, "big": big, "big_start": big_start, **found}


async def p3(media_dir: Path, tiny: bool, runs: Optional[int] = None) -> dict:
    """P3 figures for bench/run.py: ``runs`` interleaved runs (default 3, 1 when ``tiny``)."""
    r = await measure(media_dir, tiny, runs or (1 if tiny else 3))
    peaks = {name: [row["peak_rss_mb"] for row in r[name]] for name in ("alice_small", "naive_small", "alice_big")}
    small = figure(
        "P3",
        f"server peak RSS, {_describe(r['small'])} input vs naive process",
        peaks["alice_small"],
        peaks["naive_small"],
        unit="MB",
        target=f"≤ {TARGET_MB:.0f} MB",
        met=None,
    )
    big = figure(
        "P3",
        f"server peak RSS, {_describe(r['big'])} input (start_time {r['big_start']})",
        peaks["alice_big"],
        unit="MB",
        target=f"≤ {TARGET_MB:.0f} MB",
        met=None,
    )
    for row in (small, big):
        row["met"] = row["alice"]["median"] <= TARGET_MB
    idle = {name: statistics.median(row["idle_rss_mb"] for row in r[name]) for name in ("alice_small", "naive_small")}
    methods = sorted({row["upload_method"] for row in r["alice_small"] + r["alice_big"]})
    notes = (
        f"resident size before the call: alice-mcp server {idle['alice_small']:.0f} MB, naive process "
        f"{idle['naive_small']:.0f} MB (Python + its imports); alice-mcp upload method: {', '.join(methods)}; "
        f"naive uploaded {r['naive_small'][0]['bytes_uploaded'] / 1e6:.0f} MB per call (fal_client reads files under "
        "100 MiB into memory whole; larger ones go multipart in 10 MiB parts). Twin uplink not throttled."
    )
    return {"figures": [small, big], "notes": notes}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="folder to keep (and reuse) the generated clips in")
    parser.add_argument("--tiny", action="store_true", help="small inputs: proves the bench works (smoke run)")
    args = parser.parse_args()

    async def run(folder: Path) -> dict:
        return await p3(folder, args.tiny, args.runs)

    def go(folder: Optional[Path]) -> dict:
        if folder is not None:
            return asyncio.run(run(folder))
        with tempfile.TemporaryDirectory(prefix="alice-bench-memory-") as scratch:
            return asyncio.run(run(Path(scratch)))

    result = go(args.keep)
    print(f"P3 memory, {machine()}")
    for row in result["figures"]:
        base = f", naive {row['baseline']['median']:.0f} MB" if row["baseline"] else ""
        print(
            f"  {row['what']}: alice-mcp {row['alice']['median']:.0f} MB "
            f"[{row['alice']['min']:.0f}–{row['alice']['max']:.0f}]{base} (target {row['target']}) "
            f"{'OK' if row['met'] else 'MISSED'}"
        )
    print(f"  {result['notes']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

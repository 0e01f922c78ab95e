"""Media pipeline: upload only what the model needs. alice-mcp vs the naive path on big clips, 20 Mbit/s uplink.

    python bench/media.py [--big] [--keep DIR] [--tiny]

Against the fal twin with an emulated 20 Mbit/s uplink (2.5 MB/s): a 60 s 1080p30 clip (~19 Mbit/s) and a 20 s
4K30 clip (~60 Mbit/s), made here with PyAV. alice-mcp runs as the real stdio server process (called over MCP, no
duration given: it picks the clip's length up to 30 s); the naive path is what peer servers do
(``fal_client.upload_file`` of the original + submit + poll + httpx download, bench/naive.py) with the same
duration. Reported: bytes uploaded, time to the finished file, and the alice-mcp server's peak RSS (VmHWM).
``--big`` adds a ~1 GB input (alice-mcp only: the naive upload alone would take ~7 minutes at this uplink).

Targets: bytes ≤ 5% of the original (1080p clip); time ≤ 0.3x naive; peak RSS ≤ 200 MB for any input size.
The twin runs with ``result_video="copy"`` so its own (emulated fal-side) work does not favour either path.
The scenario functions are importable: ``make_bench_clip``, ``run_upload_scenario``, ``run_naive_scenario``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any, Optional

from common import BENCH_KEY, alice_env, alice_session, apply_twin_env, figure, machine, peak_rss_mb, rss_mb

UPLINK_BYTES_PER_SECOND = 2_500_000  # 20 Mbit/s


def make_bench_clip(path: Path, seconds: float, size: tuple[int, int], fps: int, mbps: float) -> Path:
    """A camera-like H.264 clip: moving fine texture plus fresh detail every frame, at about ``mbps`` Mbit/s."""
    import av

    if path.exists():
        return path
    width, height = size
    tex_w, tex_h = width + 256, height + 256
    table = bytes(64 + (i * 128) // 256 for i in range(256))
    texture = os.urandom(tex_w * tex_h).translate(table)
    partial = path.with_name(".partial-" + path.name)
    with av.open(str(partial), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = int(mbps * 1e6)
        stream.options = {"preset": "ultrafast", "maxrate": str(int(mbps * 1e6)), "bufsize": str(int(mbps * 2e6))}
        stream.gop_size = fps * 2
        stream.codec_context.thread_count = 2
        band = height // 12
        for index in range(int(seconds * fps)):
            dx, dy = (index * 3) % 256, (index * 2) % 256
            rows = [texture[(y + dy) * tex_w + dx : (y + dy) * tex_w + dx + width] for y in range(height)]
            fresh = (index * 37) % (height - band)
            rows[fresh : fresh + band] = [os.urandom(width).translate(table) for _ in range(band)]
            frame = av.VideoFrame(width, height, "yuv420p")
            frame.planes[0].update(b"".join(rows))
            frame.planes[1].update(bytes([100 + index % 50]) * frame.planes[1].buffer_size)
            frame.planes[2].update(bytes([140]) * frame.planes[2].buffer_size)
            frame.pts, frame.time_base = index, Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    partial.rename(path)
    return path


def make_sized_clip(path: Path, source: Path, target_bytes: int) -> Path:
    """A clip of about ``target_bytes``: ``source``'s video packets stream-copied (looped if needed), ending at a keyframe."""
    import av

    if path.exists():
        return path
    partial = path.with_name(".partial-" + path.name)
    written, loop = 0, 0
    with av.open(str(source)) as first:
        span = first.streams.video[0].duration
    with av.open(str(partial), "w", format="mp4") as out:
        template = None
        while written < target_bytes:
            with av.open(str(source)) as inp:
                video = inp.streams.video[0]
                if template is None:
                    template = out.add_stream_from_template(video)
                for packet in inp.demux(video):
                    if packet.dts is None:
                        continue
                    if packet.is_keyframe and written >= target_bytes:
                        break
                    packet.pts += loop * span
                    packet.dts += loop * span
                    packet.stream = template
                    written += packet.size
                    out.mux(packet)
            loop += 1
    partial.rename(path)
    return path


def _minutes(path: Path) -> int:
    import av

    with av.open(str(path)) as container:
        return round(container.duration / 60_000_000)


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


async def run_upload_scenario(
    twin: Any, clip: Path, workdir: Path, *, prompt: str = "city street ambience", arguments: Optional[dict] = None
) -> dict:
    """alice-mcp (a fresh stdio server process) soundtracks ``clip``; returns bytes, time, peak RSS and the result.

    ``idle_rss_mb`` is the server's resident size after ``initialize``, before the call.
    """
    before = twin.state.uploaded_bytes()
    known = set(_children_of(os.getpid()))
    (workdir / "home").mkdir(parents=True, exist_ok=True)
    # The clips live outside the server's HOME: allow their folder, as an operator would (README "Safety").
    async with alice_session(alice_env(twin, workdir, ALICE_ALLOWED_DIRS=str(clip.parent))) as session:
        server = [pid for pid in _children_of(os.getpid()) if pid not in known]
        idle = max((rss_mb(pid) for pid in server), default=float("nan"))
        started = time.perf_counter()
        result = await session.call_tool(
            "add_audio_to_video", {"video": str(clip), "prompt": prompt, **(arguments or {})}
        )
        seconds = time.perf_counter() - started
        if result.is_error:
            raise RuntimeError(result.content[0].text)
        rss = max((peak_rss_mb(pid) for pid in server), default=float("nan"))
    data = result.structured_content
    return {
        "path": "alice-mcp",
        "clip_bytes": clip.stat().st_size,
        "bytes_uploaded": twin.state.uploaded_bytes() - before,
        "seconds": seconds,
        "peak_rss_mb": rss,
        "idle_rss_mb": idle,
        "upload_method": data["media"]["upload_method"],
        "duration": data["duration"],
        "output": data["output_path"],
    }


async def run_naive_scenario(
    twin: Any, clip: Path, workdir: Path, *, duration: float, prompt: str = "city street ambience"
) -> dict:
    """The peer path, in this process: upload the original, submit, poll, download."""
    import fal_client
    from naive import naive_add_audio

    apply_twin_env(twin)
    before = twin.state.uploaded_bytes()
    client = fal_client.AsyncClient(key=BENCH_KEY)
    result = await naive_add_audio(client, clip, workdir / f"naive-{clip.stem}.mp4", prompt=prompt, duration=duration)
    return {
        "path": "naive",
        "clip_bytes": clip.stat().st_size,
        "bytes_uploaded": twin.state.uploaded_bytes() - before,
        "seconds": result["seconds"],
        "peak_rss_mb": float("nan"),
        "upload_method": "original",
        "duration": duration,
        "output": result["output"],
    }


def bench_clips(media_dir: Path, tiny: bool) -> list[tuple[str, Path, float]]:
    """The P2 clips (made once per ``media_dir``): (label, path, duration the naive path asks for)."""
    media_dir.mkdir(parents=True, exist_ok=True)
    if tiny:
        return [
            ("6 s 360p30 (tiny)", make_bench_clip(media_dir / "tiny360.mp4", 6, (640, 360), 30, 4), 6.0),
            ("3 s 720p30 (tiny)", make_bench_clip(media_dir / "tiny720.mp4", 3, (1280, 720), 30, 8), 3.0),
        ]
    return [
        ("60 s 1080p30", make_bench_clip(media_dir / "hd60.mp4", 60, (1920, 1080), 30, 16), 30.0),
        ("20 s 4K30", make_bench_clip(media_dir / "uhd20.mp4", 20, (3840, 2160), 30, 45), 20.0),
    ]


async def measure(keep: Optional[Path], big: bool, tiny: bool = False, runs: int = 1) -> list[dict]:
    """Run the scenarios ``runs`` times; one row per (run, clip, path). ``tiny`` uses small clips (a smoke run).

    alice-mcp and the naive path alternate which goes first; every call gets a fresh data folder (no upload cache).
    """
    from tests.fal_twin import FalTwin

    if keep is None:
        with tempfile.TemporaryDirectory(prefix="alice-bench-media-") as scratch:
            return await measure(Path(scratch), big, tiny, runs)
    scenarios = bench_clips(keep, tiny)
    rows: list[dict] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        FalTwin(
            queue_seconds=0.2, run_seconds=1.0, result_video="copy", uplink_bytes_per_second=UPLINK_BYTES_PER_SECOND
        ) as twin,
    ):
        work = Path(tmp)
        for run in range(runs):
            for label, clip, duration in scenarios:
                paths = [
                    ("alice-mcp", lambda w, c=clip: run_upload_scenario(twin, c, w)),
                    ("naive", lambda w, c=clip, d=duration: run_naive_scenario(twin, c, w, duration=d)),
                ]
                for name, call in paths if run % 2 == 0 else paths[::-1]:
                    folder = work / f"run{run}-{clip.stem}-{name}"
                    (folder / "home").mkdir(parents=True)
                    rows.append({"clip": label, "run": run, **await call(folder)})
                twin.reset()  # forget stored uploads and results: the twin's disk use stays bounded
        if big:
            clip = make_sized_clip(keep / "big.mp4", scenarios[0][1], 1_000_000_000)
            label = f"{clip.stat().st_size / 1e9:.1f} GB 1080p ({_minutes(clip)} min)"
            (work / "big" / "home").mkdir(parents=True)
            rows.append(
                {
                    "clip": label,
                    "run": 0,
                    **await run_upload_scenario(twin, clip, work / "big", arguments={"start_time": 300}),
                }
            )
    return rows


async def p2(media_dir: Path, tiny: bool) -> dict:
    """P2 figures for bench/run.py: bytes uploaded and time to the finished file, alice-mcp vs naive, per clip."""
    runs = 1 if tiny else 3
    rows = await measure(media_dir, big=False, tiny=tiny, runs=runs)
    figures, methods = [], set()
    for label, _, _ in bench_clips(media_dir, tiny):
        mine = [r for r in rows if r["clip"] == label and r["path"] == "alice-mcp"]
        base = [r for r in rows if r["clip"] == label and r["path"] == "naive"]
        methods |= {r["upload_method"] for r in mine}
        mb = lambda rs: [r["bytes_uploaded"] / 1e6 for r in rs]  # noqa: E731
        bytes_row = figure(
            "P2",
            f"bytes uploaded, {label} ({mine[0]['clip_bytes'] / 1e6:.0f} MB) vs naive",
            mb(mine),
            mb(base),
            unit="MB",
            target="≤ 0.05×",
            met=None,
        )
        bytes_row["met"] = bytes_row["ratio"] <= 0.05
        time_row = figure(
            "P2",
            f"time to the finished file, {label}, 20 Mbit/s uplink vs naive",
            [r["seconds"] for r in mine],
            [r["seconds"] for r in base],
            unit="s",
            target="≤ 0.3×",
            met=None,
        )
        time_row["met"] = time_row["ratio"] <= 0.3
        figures += [bytes_row, time_row]
    notes = (
        f"twin uplink {UPLINK_BYTES_PER_SECOND * 8 / 1e6:g} Mbit/s, queue 0.2 s + run 1.0 s per job, result video "
        f"copied (fal's side costs both paths the same); alice-mcp upload method: {', '.join(sorted(methods))}; "
        "a fresh alice-mcp server and data folder per call (no upload cache); the naive path is in-process "
        "fal_client (upload_file of the original, submit, poll, httpx download)."
    )
    return {"figures": figures, "notes": notes}


def print_table(rows: list[dict]) -> None:
    print(f"Media pipeline vs naive upload, twin uplink 20 Mbit/s, {machine()}")
    print(
        f"{'clip':<22} {'path':<10} {'clip MB':>8} {'uploaded MB':>12} {'% of clip':>9} {'method':>8} "
        f"{'time s':>8} {'peak RSS MB':>12}"
    )
    naive_time = {r["clip"]: r["seconds"] for r in rows if r["path"] == "naive"}
    for r in rows:
        share = 100 * r["bytes_uploaded"] / r["clip_bytes"]
        rss = "" if r["peak_rss_mb"] != r["peak_rss_mb"] else f"{r['peak_rss_mb']:.0f}"
        print(
            f"{r['clip']:<22} {r['path']:<10} {r['clip_bytes'] / 1e6:>8.1f} {r['bytes_uploaded'] / 1e6:>12.2f} "
            f"{share:>8.1f}% {r['upload_method']:>8} {r['seconds']:>8.2f} {rss:>12}"
        )
    for clip, base in naive_time.items():
        mine = next(r["seconds"] for r in rows if r["clip"] == clip and r["path"] == "alice-mcp")
        print(f"  {clip}: time ratio alice/naive = {mine / base:.2f}x (target ≤ 0.3x)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", action="store_true", help="also run alice-mcp on a ~1 GB input")
    parser.add_argument("--keep", type=Path, help="folder to keep (and reuse) the generated clips in")
    parser.add_argument("--tiny", action="store_true", help="small clips: proves the bench works (smoke run)")
    args = parser.parse_args()
    print_table(asyncio.run(measure(args.keep, args.big and not args.tiny, args.tiny)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

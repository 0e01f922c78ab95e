"""Throughput of the local media steps against plain ``ffmpeg``/``ffprobe`` doing the same job, as ratios.

    python bench/media_throughput.py [--keep DIR] [--runs 2]

Clips (made with ffmpeg's ``testsrc2`` plus temporal noise, camera-like bitrates): 60 s 1080p30 and 10 s 4K30,
H.264 (GOP 2 s). Steps, each alice-mcp's
function vs the command line an expert would type (same inputs, same outputs, same machine, one after the other):

* probe - :func:`alice_mcp.media.probe.probe_video` (header, first frame decoded, last second read) vs
  ``ffprobe -show_format -show_streams`` plus decoding the first frame (``-read_intervals %+#1 -show_frames``).
* proxy - :func:`alice_mcp.media.prepare.write_proxy` of the first 30 s (≤ 480p, ≤ 30 fps, libx264 ultrafast,
  ~1 Mbit/s) vs ``ffmpeg -t 30 -vf scale=…,fps=… -c:v libx264 -preset ultrafast -crf 30 -maxrate 1000k``.
* remux - :func:`alice_mcp.media.finish.mux_generated_audio` (original video stream-copied + a 30 s AAC track
  copied) vs ``ffmpeg -i video -i audio -map 0:v -map 1:a -c copy -t 30``.

Needs an ``ffmpeg`` binary on PATH for the baseline only (alice-mcp itself uses PyAV's bundled FFmpeg libraries).
Ratio = alice-mcp time / ffmpeg time (lower is better; ≤ 1.1 is the proxy's target).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

CLIPS = {"1080p 60 s": (60.0, (1920, 1080), 30, 19.0), "4K 10 s": (10.0, (3840, 2160), 30, 60.0)}


def _timed(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def make_clip(path: Path, seconds: float, size: tuple[int, int], fps: int, mbps: float) -> Path:
    """A noisy H.264 test clip at about ``mbps`` Mbit/s (kept between runs)."""
    if not path.exists():
        partial = path.with_name(".partial-" + path.name)
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size[0]}x{size[1]}:rate={fps}"]
            + ["-t", str(seconds), "-vf", "noise=alls=12:allf=t", "-c:v", "libx264", "-preset", "ultrafast"]
            + ["-b:v", f"{mbps}M", "-maxrate", f"{mbps}M", "-bufsize", f"{2 * mbps}M", "-g", str(2 * fps)]
            + ["-pix_fmt", "yuv420p", "-f", "mp4", str(partial)],
            check=True,
        )
        partial.rename(path)
    return path


def _make_track(path: Path, seconds: float) -> Path:
    import array
    import math

    import av

    with av.open(str(path), "w", format="ipod") as out:
        stream = out.add_stream("aac", rate=44100, layout="mono")
        for index in range(int(seconds * 44100 / 1024)):
            frame = av.AudioFrame(format="fltp", layout="mono", samples=1024)
            frame.planes[0].update(
                array.array("f", (0.2 * math.sin((index * 1024 + i) * 0.05) for i in range(1024))).tobytes()
            )
            frame.sample_rate, frame.pts, frame.time_base = 44100, index * 1024, Fraction(1, 44100)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def _plan(path: Path, seconds: float):  # type: ignore[no-untyped-def]
    from alice_mcp.media.plan import MediaPlan, choose_output, proxy_geometry
    from alice_mcp.media.probe import probe_video

    info = probe_video(path)
    size, fps = proxy_geometry(info.width, info.height, info.fps)
    muxer, suffix, _ = choose_output(path, info.video_codec, None)
    return MediaPlan(
        source=str(path),
        upload_method="proxy",
        start=0.0,
        end=min(seconds, info.duration),
        keyframe=0.0,
        duration=min(seconds, info.duration),
        clip_duration=info.duration,
        width=info.width,
        height=info.height,
        fps=info.fps,
        has_audio=info.has_audio,
        origin=info.origin,
        proxy_size=size,
        proxy_fps=fps,
        output_format=muxer,
        output_suffix=suffix,
    )


def run(keep: Path, runs: int) -> str:
    from alice_mcp.data.params import PipelineOptions
    from alice_mcp.media.finish import mux_generated_audio
    from alice_mcp.media.prepare import write_proxy
    from alice_mcp.media.probe import probe_video

    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        return "ffmpeg/ffprobe not on PATH: no baseline to compare with.\n"
    keep.mkdir(parents=True, exist_ok=True)
    track = _make_track(keep / "generated-30s.m4a", 30.0)
    lines = ["| clip | step | alice-mcp (s) | ffmpeg (s) | ratio |", "|---|---|---:|---:|---:|"]
    for label, (seconds, size, fps, mbps) in CLIPS.items():
        clip = make_clip(keep / f"{label.replace(' ', '-')}.mp4", seconds, size, fps, mbps)
        plan = _plan(clip, 30.0)
        width, height = plan.proxy_size
        length = plan.end
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            steps = {
                "probe": (
                    lambda clip=clip: probe_video(clip),
                    ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-select_streams", "v:0"]
                    + ["-read_intervals", "%+#1", "-show_frames", str(clip)],
                ),
                "proxy": (
                    lambda clip=clip, plan=plan, work=work: write_proxy(clip, plan, work / "proxy.mp4"),
                    ["ffmpeg", "-v", "error", "-y", "-t", f"{length}", "-i", str(clip), "-an"]
                    + ["-vf", f"scale={width}:{height}:flags=fast_bilinear,fps={plan.proxy_fps}"]
                    + ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "30", "-maxrate", "1000k"]
                    + ["-bufsize", "2000k", "-pix_fmt", "yuv420p", str(work / "ff-proxy.mp4")],
                ),
                "remux": (
                    lambda clip=clip, plan=plan, work=work: mux_generated_audio(
                        clip, plan, track, work / "out.mp4", PipelineOptions()
                    ),
                    ["ffmpeg", "-v", "error", "-y", "-i", str(clip), "-i", str(track), "-map", "0:v", "-map", "1:a"]
                    + ["-c", "copy", "-t", f"{length}", str(work / "ff-out.mp4")],
                ),
            }
            for step, (ours, theirs) in steps.items():
                alice_s = _timed(ours, runs)
                ffmpeg_s = _timed(lambda cmd=theirs: subprocess.run(cmd, check=True, capture_output=True), runs)
                lines.append(f"| {label} | {step} | {alice_s:.3f} | {ffmpeg_s:.3f} | {alice_s / ffmpeg_s:.2f}x |")
                print(lines[-1], flush=True)
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, default=Path(tempfile.gettempdir()) / "alice-bench-throughput")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    print(run(args.keep, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Finishing options (issue 15): duck, loudness (two passes) and stems on a 60 s 1080p clip, alice-mcp's finish
step vs plain ``ffmpeg`` running the same filters, as ratios measured in one run.

    python bench/mixdown.py [--runs 3] [--keep DIR] [--tiny]

The clip: 60 s 1080p30 H.264 (bench/media.py's camera-like clip) with a speech-like track (0.3-amplitude tone bursts,
1 s on / 1 s off, AAC 48 kHz); the "generated" bed: 60 s of seeded tones + noise, AAC 44.1 kHz (what the fal twin
returns). alice-mcp runs its real finish step (``alice_mcp.media.pipeline.finish_media``: video stream-copied, the
audio rendered, AAC 192 kbit/s) in this process; each option against ``ffmpeg`` doing the same work with the same
filters and the same encoder settings:

* plain mix (reference): amix of bed and clip sound, muxed with the copied video;
* duck: the bed through ``sidechaincompress`` keyed by the clip's sound (alice-mcp's threshold, ratio, attack,
  release and dry/wet), then mixed;
* loudness youtube: pass 1 ``loudnorm`` measuring the mix, pass 2 ``loudnorm`` with the measured values (linear),
  and, as alice-mcp reports it, ``ebur128`` measuring the written file;
* stems: the bed, the clip's sound and the mix as float WAV next to the video, plus the ``ebur128`` measurement.

Everything alice-mcp does per option also runs in the ffmpeg baseline (e.g. the key's loudness measured to set
the duck threshold costs alice-mcp a pass over the clip sound that the ffmpeg line, given the threshold, skips).
Runs alternate alice-mcp / ffmpeg; medians and spread are printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from common import fmt_s, machine, summary
from media import make_bench_clip  # noqa: E402  (bench/media.py)

RATE = 48000


def add_speech_like_track(video: Path, dest: Path, seconds: float) -> Path:
    """``video`` (stream-copied) plus a tone-burst track: 440 Hz at 0.3, on for 1 s, off for 1 s."""
    import av
    import numpy as np

    if dest.exists():
        return dest
    with av.open(str(video)) as src, av.open(str(dest), "w") as out:
        stream = src.streams.video[0]
        video_out = out.add_stream_from_template(stream)
        audio = out.add_stream("aac", rate=RATE, layout="stereo")
        for packet in src.demux(stream):
            if packet.dts is None:
                continue
            packet.stream = video_out
            out.mux(packet)
        for start in range(0, int(seconds * RATE), 1024):
            t = (start + np.arange(1024)) / RATE
            wave = np.where((t % 2.0) < 1.0, 0.3 * np.sin(2 * np.pi * 440 * t), 0.0).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(np.vstack([wave, wave]), format="fltp", layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = RATE, start, Fraction(1, RATE)
            for packet in audio.encode(frame):
                out.mux(packet)
        for packet in audio.encode(None):
            out.mux(packet)
    return dest


def make_bed(dest: Path, seconds: float) -> Path:
    """The twin's generated audio (seeded tones + noise), AAC 44.1 kHz in an M4A, ``seconds`` long."""
    import av

    from tests.fal_twin.synth import RATE as BED_RATE
    from tests.fal_twin.synth import _pcm, _write_audio

    if dest.exists():
        return dest
    with av.open(str(dest), "w", format="ipod") as out:
        stream = out.add_stream("aac", rate=BED_RATE, layout="stereo")
        _write_audio(out, stream, _pcm(seconds, 7, "soft pad"))
    return dest


# ------------------------------------------------------------------------------------------------------ alice-mcp
def alice_finish(clip: Path, bed: Path, out_dir: Path, seconds: float, options: dict) -> float:
    """alice-mcp's finish step for the whole clip with ``options``; returns wall seconds."""
    from alice_mcp.data.params import pipeline_options_from
    from alice_mcp.media.pipeline import finish_media
    from alice_mcp.media.plan import MediaPlan

    plan = MediaPlan(
        source=str(clip),
        upload_method="as_is",
        start=0.0,
        end=seconds,
        keyframe=0.0,
        duration=seconds,
        clip_duration=seconds,
        width=1920,
        height=1080,
        fps=30.0,
        has_audio=True,
    )
    work = Path(tempfile.mkdtemp(prefix="alice-bench-work-"))
    generated = work / bed.name
    shutil.copyfile(bed, generated)  # finish_media keeps its mixdown files beside fal's download
    started = time.perf_counter()
    asyncio.run(finish_media(plan, pipeline_options_from(options), generated, out_dir / "alice.mp4", None))
    elapsed = time.perf_counter() - started
    shutil.rmtree(work)
    return elapsed


# ------------------------------------------------------------------------------------------------------ ffmpeg
_AAC = ["-c:a", "aac", "-aac_coder", "fast", "-b:a", "192k"]
_LAYERS = (
    "[1:a]aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo,volume=1[bed];"
    "[0:a]aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo,volume=1[orig]"
)


def _ffmpeg(*args: str) -> str:
    done = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-y", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return done.stderr


def _mux(clip: Path, bed: Path, graph: str, dest: Path, *extra: str) -> None:
    _ffmpeg("-i", str(clip), "-i", str(bed), "-filter_complex", graph, "-map", "0:v", "-c:v", "copy", "-map", "[a]",
            *_AAC, *extra, str(dest))  # fmt: skip


def _measure(path: Path) -> None:
    _ffmpeg("-i", str(path), "-map", "0:a", "-af", "ebur128=peak=true", "-f", "null", "-")


def ffmpeg_finish(clip: Path, bed: Path, out_dir: Path, option: str, duck_args: str) -> float:
    """The same work with the ffmpeg command line; returns wall seconds."""
    dest = out_dir / "ffmpeg.mp4"
    started = time.perf_counter()
    if option == "plain":
        _mux(clip, bed, f"{_LAYERS};[bed][orig]amix=inputs=2:normalize=0[a]", dest)
    elif option == "duck":
        graph = (
            f"{_LAYERS};[orig]asplit[key][keep];[bed]apad[held];[held][key]sidechaincompress={duck_args}[ducked];"
            "[ducked][keep]amix=inputs=2:normalize=0:duration=shortest[a]"
        )
        _mux(clip, bed, graph, dest)
        _measure(dest)
    elif option == "loudness":
        mix = f"{_LAYERS};[bed][orig]amix=inputs=2:normalize=0"
        log = _ffmpeg(
            "-i", str(clip), "-i", str(bed), "-filter_complex",
            f"{mix},loudnorm=I=-14:TP=-1.5:LRA=11:print_format=json[a]", "-map", "[a]", "-f", "null", "-",
        )  # fmt: skip
        m = json.loads(log[log.rindex("{") : log.rindex("}") + 1])
        second = (
            f"{mix},loudnorm=I=-14:TP=-1.5:LRA={max(11.0, math.ceil(float(m['input_lra']) + 1))}"
            f":measured_I={m['input_i']}:measured_TP={m['input_tp']}:measured_LRA={m['input_lra']}"
            f":measured_thresh={m['input_thresh']}:linear=true,aresample=48000[a]"
        )
        _mux(clip, bed, second, dest)
        _measure(dest)
    elif option == "stems":
        graph = (
            f"{_LAYERS};[bed]asplit[b1][b2];[orig]asplit[o1][o2];[b1][o1]amix=inputs=2:normalize=0,asplit[m1][m2];"
            "[m2]anull[a]"
        )
        _ffmpeg(
            "-i", str(clip), "-i", str(bed), "-filter_complex", graph,
            "-map", "0:v", "-c:v", "copy", "-map", "[a]", *_AAC, str(dest),
            "-map", "[b2]", "-c:a", "pcm_f32le", str(out_dir / "ffmpeg.bed.wav"),
            "-map", "[o2]", "-c:a", "pcm_f32le", str(out_dir / "ffmpeg.original.wav"),
            "-map", "[m1]", "-c:a", "pcm_f32le", str(out_dir / "ffmpeg.mix.wav"),
        )  # fmt: skip
        _measure(dest)
    return time.perf_counter() - started


OPTIONS = {
    "plain": {"original_audio": "mix", "original_level": 1.0},
    "duck": {"original_audio": "duck", "original_level": 1.0},
    "loudness": {"original_audio": "mix", "original_level": 1.0, "loudness": "youtube"},
    "stems": {"original_audio": "mix", "original_level": 1.0, "stems": True},
}
LABELS = {
    "plain": "plain mix (no mixdown), reference",
    "duck": "duck (sidechaincompress) + loudness report",
    "loudness": "loudness youtube, two passes + measured",
    "stems": "stems (3 float WAV) + loudness report",
}


def duck_args_like_alice(clip: Path) -> str:
    """The sidechaincompress arguments alice-mcp uses for this clip (its key's loudness measured once, here)."""
    from alice_mcp.media.mixdown import (
        DUCK_ATTACK_MS,
        DUCK_RATIO,
        DUCK_RELEASE_MS,
        DUCK_THRESHOLD_BELOW_DB,
        measure_loudness,
    )

    key = measure_loudness(clip).integrated_lufs
    threshold = min(1.0, max(0.000976563, 10 ** ((key - DUCK_THRESHOLD_BELOW_DB) / 20)))
    return (
        f"threshold={threshold:.6f}:ratio={DUCK_RATIO}:attack={DUCK_ATTACK_MS}:release={DUCK_RELEASE_MS}"
        f":makeup=1:mix={1 - 10 ** (-12 / 20):.6f}:detection=rms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="reuse/keep the made media in this folder")
    parser.add_argument("--tiny", action="store_true", help="a 4 s 320x180 clip, one run (proves it works)")
    args = parser.parse_args()
    if shutil.which("ffmpeg") is None:
        sys.exit("needs the ffmpeg command line for the baseline (e.g. apt-get install -y ffmpeg)")
    seconds, size, runs = (4.0, (320, 180), 1) if args.tiny else (60.0, (1920, 1080), args.runs)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="alice-bench-mixdown-"))
    folder.mkdir(parents=True, exist_ok=True)
    tag = f"{int(seconds)}s-{size[1]}p"
    picture = make_bench_clip(folder / f"picture-{tag}.mp4", seconds, size, 30, 19.0 if not args.tiny else 1.0)
    clip = add_speech_like_track(picture, folder / f"talk-{tag}.mp4", seconds)
    bed = make_bed(folder / f"bed-{tag}.m4a", seconds)
    duck_args = duck_args_like_alice(clip)
    version = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.split("\n")[0]
    print(f"machine: {machine()}; {version}; clip {clip.name} ({clip.stat().st_size / 1e6:.0f} MB)", file=sys.stderr)
    times: dict[str, dict[str, list[float]]] = {name: {"alice": [], "ffmpeg": []} for name in OPTIONS}
    for run in range(runs):
        for name, options in OPTIONS.items():
            out = Path(tempfile.mkdtemp(prefix="out-", dir=folder))
            times[name]["alice"].append(alice_finish(clip, bed, out, seconds, options))
            times[name]["ffmpeg"].append(ffmpeg_finish(clip, bed, out, name, duck_args))
            shutil.rmtree(out)
            print(f"run {run + 1}/{runs} {name}: alice {times[name]['alice'][-1]:.2f} s, "
                  f"ffmpeg {times[name]['ffmpeg'][-1]:.2f} s", file=sys.stderr)  # fmt: skip
    print(f"\n| option ({seconds:g} s {size[1]}p clip) | alice-mcp finish step | plain ffmpeg, same filters | ratio |")
    print("|---|---|---|---|")
    for name in OPTIONS:
        alice, ffmpeg = summary(times[name]["alice"]), summary(times[name]["ffmpeg"])
        print(f"| {LABELS[name]} | {fmt_s(alice)} | {fmt_s(ffmpeg)} | {alice['median'] / ffmpeg['median']:.2f}× |")
    if args.keep is None:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()

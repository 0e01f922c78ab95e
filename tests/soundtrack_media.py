"""Media for the soundtrack tests, made with PyAV and numpy: clips with scene cuts, and audio files from samples."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

FAL_RATE = 44100  # fal's MMAudio returns 44.1 kHz AAC


def write_audio(path: Path, samples: np.ndarray, rate: int = FAL_RATE) -> Path:
    """Write ``(2, n)`` float samples as WAV (``.wav``) or AAC in MP4 (``.mp4``, like fal's result)."""
    codec, fmt = ("pcm_f32le", "flt") if path.suffix == ".wav" else ("aac", "fltp")
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate, layout="stereo")
        step = 1024
        for lo in range(0, samples.shape[1], step):
            part = samples[:, lo : lo + step].astype(np.float32)
            data = part.T.reshape(1, -1).copy() if fmt == "flt" else np.ascontiguousarray(part)
            frame = av.AudioFrame.from_ndarray(data, format=fmt, layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = rate, lo, Fraction(1, rate)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def make_scenes(
    path: Path, seconds: float, cuts: list[float], size=(160, 90), fps: int = 24, gop: int = 250, motion: int = 3
) -> Path:
    """A clip whose colour and texture change at each of ``cuts``, with steady motion (``motion`` px per frame)."""
    width, height = size
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "30"}
        stream.codec_context.gop_size = gop
        for i in range(round(seconds * fps)):
            scene = sum(1 for c in cuts if i / fps >= c - 1e-9)
            base = np.array([(scene * 97) % 256, (scene * 53 + 40) % 256, (scene * 191 + 80) % 256], np.uint8)
            image = np.empty((height, width, 3), np.uint8)
            image[:] = base
            ramp = ((np.arange(width) * (1 + scene) + i * motion) % 64).astype(np.uint8)
            image[:, :, 0] = base[0] + ramp  # moving stripes: motion, but no cut
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


FLASH_S = 0.1  # each flash of make_flashes lasts this long


def make_flashes(path: Path, seconds: float, fps: int = 24, gop: int = 24, size=(96, 64), origin: float = 0.0) -> Path:
    """A clip with a white flash starting at every whole second (lasting ``FLASH_S``) over a moving grey pattern, in
    the container ``path``'s suffix names (``.ts``: MPEG-TS, whose clock starts at ``origin``). The fal twin puts
    a click under every flash it sees in an upload (``sync_clicks``)."""
    width, height = size
    fmt = "mpegts" if path.suffix == ".ts" else None
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "30"}
        stream.codec_context.gop_size = gop
        offset = round(origin * fps)
        for i in range(round(seconds * fps)):
            t = i / fps
            image = np.empty((height, width, 3), np.uint8)
            if t - np.floor(t + 1e-9) < FLASH_S - 1e-9:
                image[:] = 235
            else:
                image[:] = ((np.arange(width) + i * 3) % 64 + 16).astype(np.uint8)[None, :, None]
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
            frame.pts, frame.time_base = i + offset, Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def flash_onsets(seconds: float, fps: int = 24) -> list[float]:
    """Where make_flashes' flashes start (s, clip clock)."""
    return [float(k) for k in range(int(seconds) + 1) if k * fps < round(seconds * fps)]

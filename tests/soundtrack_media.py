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

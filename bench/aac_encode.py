"""How long FFmpeg's AAC encoder takes on generated-like audio, default coder vs ``aac_coder=fast`` (P5/P6 finding).

    python bench/aac_encode.py [--seconds 2 30] [--runs 5]

alice-mcp encodes the result's audio (AAC, 48 kHz stereo, 192 kbit/s) when it cannot copy fal's track onto the original
video as it is (mixing, levels, padding); profiling P5 and P6 on d464ce7, which always re-encoded with the default
coder, showed that encode as the largest CPU cost of a call (BENCHMARKS.md, Findings). This measures it alone: tones
plus noise (like the fal twin's output), encoded into an in-memory MP4.
"""

from __future__ import annotations

import argparse
import array
import io
import math
import random
import statistics
import time
from fractions import Fraction
from typing import Optional

RATE = 48000
FRAME = 1024


def _frames(seconds: float) -> list:  # type: ignore[type-arg]
    import av

    rng = random.Random(7)
    frames = []
    for index in range(int(RATE * seconds / FRAME)):
        start = index * FRAME
        samples = array.array(
            "f", (0.3 * math.sin((start + i) * 0.07) + 0.05 * rng.uniform(-1, 1) for i in range(FRAME))
        )
        frame = av.AudioFrame(format="fltp", layout="stereo", samples=FRAME)
        for plane in frame.planes:
            plane.update(samples.tobytes()[: plane.buffer_size])
        frame.sample_rate, frame.pts, frame.time_base = RATE, start, Fraction(1, RATE)
        frames.append(frame)
    return frames


def encode_seconds(frames: list, options: Optional[dict[str, str]]) -> float:  # type: ignore[type-arg]
    """Wall time to encode ``frames`` as AAC 192 kbit/s into an in-memory MP4."""
    import av

    with av.open(io.BytesIO(), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=RATE, layout="stereo")
        stream.bit_rate = 192_000
        if options:
            stream.options = options
        started = time.perf_counter()
        for frame in frames:
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[2.0, 30.0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for seconds in args.seconds:
        frames = _frames(seconds)
        for label, options in (("default coder", None), ("aac_coder=fast", {"aac_coder": "fast"})):
            took = statistics.median(encode_seconds(frames, options) for _ in range(args.runs))
            print(f"{seconds:g} s of audio, {label:<15}: {took * 1000:6.1f} ms (median of {args.runs})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Join a soundtrack's window audio into one track, lay its cues over it, and measure every seam (PyAV + numpy).

Contract of :func:`assemble_soundtrack`: ``dest`` (48 kHz stereo: ``.wav`` float 32-bit, or ``.m4a`` AAC with its
priming signalled) covers exactly
``[start, end)`` of the clip. Each window's audio (its file's first ``end - start`` seconds; fal reads the window's
video from its first frame) is placed at its start, faded in over ``fade_in`` and out over ``fade_out`` with
equal-power curves (sin/cos: the two sides' gains squared sum to 1, so uncorrelated sound keeps its power through
the seam and correlated sound never dips), and summed. A window without audio (a part that failed) leaves silence
there. Cues are then added at their place and gain, with ``CUE_FADE_S`` fades so they never click; with
``cues_dest`` they go to that file instead (float WAV, the same span and clock: the cues stem of a finished mix), and
``dest`` holds the bed alone.

The seam report measures the bed (before cues) with FFmpeg's EBU R128 meter: per seam, the short-term loudness
(3 s) just before and just after it, and the step between them in dB; where a side has less than 3 s, the
momentary loudness (0.4 s) on both sides is used instead.

Streaming: memory holds one window (≤ 30 s) plus the cues that overlap the part being written, whatever the length.
Blocking: run in a worker thread. Raises :class:`MediaError`.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Optional, Sequence

from alice_mcp.media.finish import FAST_AAC
from alice_mcp.media.prepare import Cancelled, MediaError
from alice_mcp.media.windows import CUE_FADE_S

RATE = 48000
#: The joined track's file, by suffix: (muxer, codec, sample format). WAV is exact (tests, exports); M4A (AAC) goes
#: onto the video as it is, packets copied.
_TRACK_FORMATS = {".wav": ("wav", "pcm_f32le", "flt"), ".m4a": ("ipod", "aac", "fltp")}
METER_STEP = 4800  # 100 ms frames into the loudness meter
SHORT_TERM_S = 3.0
MOMENTARY_S = 0.4
SILENT_LUFS = -70.0
SHORT_AUDIO_TOLERANCE_S = 0.05


@dataclass(frozen=True)
class WindowAudio:
    """One window's generated audio (``None``: it failed) for ``[start, end)`` on the clip's timeline."""

    path: Optional[Path]
    start: float
    end: float
    fade_in: float = 0.0
    fade_out: float = 0.0


@dataclass(frozen=True)
class CueAudio:
    """One cue's generated audio (``None``: it failed) for ``[start, end)``, laid over the bed at ``gain_db``."""

    path: Optional[Path]
    start: float
    end: float
    gain_db: float = 0.0


@dataclass(frozen=True)
class SeamLoudness:
    """The loudness (LUFS) of the bed just before and just after the seam at ``at`` (clip timeline), and the step
    ``after - before`` in dB (``None`` when a side is silent). ``measure`` says which meter: ``short-term`` (3 s)
    or ``momentary`` (0.4 s, where a side is shorter than 3 s)."""

    at: float
    before_lufs: Optional[float]
    after_lufs: Optional[float]
    step_db: Optional[float]
    measure: str


@dataclass
class Assembly:
    """What :func:`assemble_soundtrack` wrote: the seam report and notes for the user (short audio, gaps)."""

    seams: list[SeamLoudness]
    seconds: float
    notes: list[str] = field(default_factory=list)


def assemble_soundtrack(
    windows: Sequence[WindowAudio],
    cues: Sequence[CueAudio],
    start: float,
    end: float,
    dest: Path,
    seam_times: Sequence[float] = (),
    stop: Optional[threading.Event] = None,
    cues_dest: Optional[Path] = None,
) -> Assembly:
    """Write the joined, cue-laden track for ``[start, end)`` to ``dest`` (the cues to ``cues_dest`` instead, when
    given); measure the bed at ``seam_times``."""
    import contextlib

    import av
    import numpy as np

    total = _samples(end - start)
    notes: list[str] = []
    meter = _LoudnessMeter()
    pending_cues = sorted(cues, key=lambda c: c.start)
    loaded_cues: list[tuple[int, np.ndarray]] = []
    buffer = np.zeros((2, 0), dtype=np.float32)
    buffer_at = 0  # sample index (span timeline) of buffer[:, 0]
    try:
        muxer, codec, sample_format = _TRACK_FORMATS[dest.suffix.lower()]
        with contextlib.ExitStack() as files:
            out = files.enter_context(av.open(str(dest), "w", format=muxer))
            stream = out.add_stream(codec, rate=RATE, layout="stereo")
            if codec == "aac":
                stream.bit_rate = 192_000
                stream.options = dict(FAST_AAC)
            cue_out = files.enter_context(av.open(str(cues_dest), "w", format="wav")) if cues_dest else None
            cue_stream = cue_out.add_stream("pcm_f32le", rate=RATE, layout="stereo") if cue_out else None
            written = 0

            def emit(upto: int) -> None:
                """Finish the bed up to sample ``upto``: meter it, add the cues, write it."""
                nonlocal buffer, buffer_at, written
                upto = min(upto, total)
                if upto <= written:
                    return
                need = upto - buffer_at
                if buffer.shape[1] < need:
                    buffer = np.concatenate([buffer, np.zeros((2, need - buffer.shape[1]), np.float32)], axis=1)
                chunk = buffer[:, written - buffer_at : upto - buffer_at].copy()
                meter.push(chunk)
                while pending_cues and _samples(pending_cues[0].start - start) < upto:
                    cue = pending_cues.pop(0)
                    audio = _cue_samples(cue, notes)
                    if audio is not None:
                        loaded_cues.append((_samples(cue.start - start), audio))
                layer = chunk if cue_out is None else np.zeros_like(chunk)
                for at, audio in loaded_cues:
                    lo, hi = max(at, written), min(at + audio.shape[1], upto)
                    if lo < hi:
                        layer[:, lo - written : hi - written] += audio[:, lo - at : hi - at]
                loaded_cues[:] = [(at, a) for at, a in loaded_cues if at + a.shape[1] > upto]
                _write(out, stream, chunk, written, sample_format)
                if cue_out is not None:
                    _write(cue_out, cue_stream, layer, written, "flt")
                buffer = buffer[:, upto - buffer_at :]
                buffer_at = upto
                written = upto

            for window in sorted(windows, key=lambda w: w.start):
                if stop is not None and stop.is_set():
                    raise Cancelled()
                at = _samples(window.start - start)
                emit(at)  # later windows start later: everything before this one is final
                audio = _window_samples(window, notes)
                if audio is None:
                    continue
                need = at + audio.shape[1] - buffer_at
                if buffer.shape[1] < need:
                    buffer = np.concatenate([buffer, np.zeros((2, need - buffer.shape[1]), np.float32)], axis=1)
                buffer[:, at - buffer_at : at - buffer_at + audio.shape[1]] += audio
            emit(total)
            for packet in stream.encode(None):
                out.mux(packet)
            if cue_out is not None and cue_stream is not None:
                for packet in cue_stream.encode(None):
                    cue_out.mux(packet)
    except av.error.FFmpegError as exc:
        raise MediaError(f"Could not join the soundtrack's windows ({exc}).") from exc
    report = [meter.seam(at - start) for at in seam_times]
    return Assembly(
        seams=[
            SeamLoudness(round(at, 3), r.before_lufs, r.after_lufs, r.step_db, r.measure)
            for at, r in zip(seam_times, report, strict=True)
        ],
        seconds=total / RATE,
        notes=notes,
    )


def equal_power_fade(samples: int, rising: bool):  # type: ignore[no-untyped-def]
    """Gains of an equal-power fade over ``samples`` (sin rising, cos falling; sin² + cos² = 1 at every sample)."""
    import numpy as np

    phase = (np.arange(samples, dtype=np.float64) + 0.5) / max(1, samples) * (math.pi / 2)
    return (np.sin(phase) if rising else np.cos(phase)).astype(np.float32)


def decode_audio(path: Path, seconds: Optional[float] = None):  # type: ignore[no-untyped-def]
    """The first ``seconds`` (all, if ``None``) of ``path``'s first audio track as float32 stereo at 48 kHz,
    shaped ``(2, n)``."""
    import av
    import numpy as np

    limit = _samples(seconds) if seconds is not None else None
    parts = []
    got = 0
    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise MediaError(f"{path.name} has no audio track.")
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=RATE)
        for frame in _then_flush(container.decode(container.streams.audio[0])):
            for out in resampler.resample(frame):
                data = out.to_ndarray()
                parts.append(data)
                got += data.shape[1]
            if limit is not None and got >= limit:
                break
    audio = np.concatenate(parts, axis=1) if parts else np.zeros((2, 0), np.float32)
    return audio[:, :limit] if limit is not None else audio


def _then_flush(frames):  # type: ignore[no-untyped-def]
    """The decoded frames, then ``None`` (which flushes the resampler)."""
    yield from frames
    yield None


def _window_samples(window: WindowAudio, notes: list[str]):  # type: ignore[no-untyped-def]
    """The window's audio, exactly its length (zero-padded if fal's is short), with its fades applied."""
    import numpy as np

    if window.path is None:
        return None
    length = _samples(window.end - window.start)
    audio = decode_audio(window.path, window.end - window.start)
    if audio.shape[1] < length:
        if (length - audio.shape[1]) / RATE > SHORT_AUDIO_TOLERANCE_S:
            notes.append(
                f"The audio for {window.start:g}-{window.end:g} s is {(length - audio.shape[1]) / RATE:.2f} s short; "
                "silence fills the rest."
            )
        audio = np.concatenate([audio, np.zeros((2, length - audio.shape[1]), np.float32)], axis=1)
    fade_in, fade_out = min(_samples(window.fade_in), length), min(_samples(window.fade_out), length)
    if fade_in:
        audio[:, :fade_in] *= equal_power_fade(fade_in, rising=True)
    if fade_out:
        audio[:, length - fade_out :] *= equal_power_fade(fade_out, rising=False)
    return audio


def _cue_samples(cue: CueAudio, notes: list[str]):  # type: ignore[no-untyped-def]
    """The cue's audio at its gain with short linear fades, at most its length."""
    import numpy as np

    if cue.path is None:
        return None
    audio = decode_audio(cue.path, cue.end - cue.start) * np.float32(10 ** (cue.gain_db / 20))
    fade = min(_samples(CUE_FADE_S), audio.shape[1] // 2)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        audio[:, :fade] *= ramp
        audio[:, audio.shape[1] - fade :] *= ramp[::-1]
    return audio


def _write(out, stream, chunk, at: int, sample_format: str) -> None:  # type: ignore[no-untyped-def]
    """Encode ``chunk`` (starting at sample ``at``) with timestamps, so an AAC encoder's priming is signalled (the
    muxer writes an edit list) and the track plays on time."""
    import av
    import numpy as np

    for lo in range(0, chunk.shape[1], RATE):
        part = chunk[:, lo : lo + RATE]
        data = part.T.reshape(1, -1).copy() if sample_format == "flt" else np.ascontiguousarray(part)
        frame = av.AudioFrame.from_ndarray(data, format=sample_format, layout="stereo")
        frame.sample_rate = RATE
        frame.pts = at + lo
        frame.time_base = Fraction(1, RATE)
        for packet in stream.encode(frame):
            out.mux(packet)


def _samples(seconds: float) -> int:
    return int(round(seconds * RATE))


class _LoudnessMeter:
    """FFmpeg's ``ebur128`` filter fed the bed as it is written; remembers momentary and short-term loudness every
    100 ms (at the end of each 100 ms block, span timeline)."""

    def __init__(self) -> None:
        import av.filter

        self.graph = av.filter.Graph()
        self.source = self.graph.add_abuffer(
            format="fltp", sample_rate=RATE, layout="stereo", time_base=Fraction(1, RATE)
        )
        meter = self.graph.add("ebur128", "metadata=1")
        self.sink = self.graph.add("abuffersink")
        self.source.link_to(meter)
        meter.link_to(self.sink)
        self.graph.configure()
        self.pending = None
        self.pushed = 0
        self.readings: list[tuple[float, float, float]] = []  # (end time, momentary, short-term)

    def push(self, chunk) -> None:  # type: ignore[no-untyped-def]
        import numpy as np

        data = chunk if self.pending is None else np.concatenate([self.pending, chunk], axis=1)
        whole = data.shape[1] // METER_STEP * METER_STEP
        for lo in range(0, whole, METER_STEP):
            self._feed(np.ascontiguousarray(data[:, lo : lo + METER_STEP]))
        self.pending = data[:, whole:]

    def _feed(self, block) -> None:  # type: ignore[no-untyped-def]
        import av

        frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = RATE, self.pushed, Fraction(1, RATE)
        self.pushed += block.shape[1]
        self.source.push(frame)
        while True:
            try:
                out = self.sink.pull()
            except (av.BlockingIOError, av.EOFError):
                return
            end = float((out.pts or 0) * (out.time_base or 0)) + out.samples / RATE  # type: ignore[attr-defined]
            meta = out.metadata
            self.readings.append((end, float(meta["lavfi.r128.M"]), float(meta["lavfi.r128.S"])))

    def at(self, t: float, which: int) -> Optional[float]:
        """The reading (1 momentary, 2 short-term) of the block ending nearest ``t``; ``None`` when silent."""
        if not self.readings:
            return None
        reading = min(self.readings, key=lambda r: abs(r[0] - t))
        value = reading[which]
        return None if value <= SILENT_LUFS else round(value, 2)

    def seam(self, x: float) -> SeamLoudness:
        length = self.readings[-1][0] if self.readings else 0.0
        if x >= SHORT_TERM_S - 1e-6 and x + SHORT_TERM_S <= length + 1e-6:
            before, after, measure = self.at(x, 2), self.at(x + SHORT_TERM_S, 2), "short-term"
        else:
            before, after, measure = self.at(x, 1), self.at(x + MOMENTARY_S, 1), "momentary"
        step = round(after - before, 2) if before is not None and after is not None else None
        return SeamLoudness(x, before, after, step, measure)

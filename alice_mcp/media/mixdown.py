"""The finished mix beyond plain replace/mix: the bed ducked under the clip's own sound, stems, and loudness
normalised to a target and measured (EBU R128) on the file written.

Every bit of signal processing is FFmpeg's, run through PyAV's filter graph: ``sidechaincompress`` ducks,
``ebur128`` measures (integrated loudness, true peak, loudness range), ``loudnorm`` normalises.

Contract of :class:`Mixdown` (one per finished video; blocking, run in a worker thread):

* :meth:`Mixdown.render` is called by :func:`alice_mcp.media.finish.mux_generated_audio` instead of the plain mix.
  It writes the PRE-MASTER layers into ``work`` as float WAV at the output's rate, each exactly as long as the
  result's audio and starting at the result's time 0: ``bed`` (the generated audio at ``generated_level``, ducked
  when ``original_audio=duck``), ``cues`` (a soundtrack's cues layer, on the generated audio's clock like the bed,
  at ``generated_level``, not ducked),
  ``original`` (the clip's own sound at ``original_level``, when it is in the mix) and ``mix`` (their sum). So the
  stems sum back to ``mix``. It measures ``mix`` (pass 1) and yields the result track: ``mix``, or with a
  ``loudness`` target, ``mix`` through ``loudnorm`` given the pass-1 measurements (pass 2).
* :func:`measure_loudness` reads a written file's audio back and measures it; that, never a planned figure, is
  what the result reports.

Ducking: the bed goes through ``sidechaincompress`` keyed by the clip's own sound, hard (ratio 20) with a
threshold 35 dB under the clip sound's own integrated loudness, so any passage near the sound's usual level is
compressed by far more than ``duck_db``; the compressor's ``mix`` (dry/wet) then sets the depth:
``1 - 10^(-duck_db/20)`` of the bed is the compressed bed, so under speech the bed sits ``duck_db`` lower.
Attack 15 ms, release 300 ms (FFmpeg's detector time constants are a quarter of those), so the bed dips within a
few ms of a word and comes back within about half a second of the end of a phrase.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

from alice_mcp.data.params import PipelineOptions, loudness_target
from alice_mcp.media.finish import AudioMix
from alice_mcp.media.open_input import open_media
from alice_mcp.media.plan import MediaPlan
from alice_mcp.media.prepare import MediaError

#: The stems in the order an editor wants them (bed first, the mix last).
STEM_ORDER = ("bed", "cues", "original", "mix")
DUCK_RATIO = 20
DUCK_ATTACK_MS = 15
DUCK_RELEASE_MS = 300
#: How far under the clip sound's integrated loudness the ducker starts to act (dB).
DUCK_THRESHOLD_BELOW_DB = 35.0
#: Below this integrated loudness (LUFS) the clip's own sound counts as silent: nothing to duck under.
SILENT_LUFS = -60.0
#: Headroom under the true-peak ceiling kept for the lossy encoder's overshoot (dB).
ENCODER_HEADROOM_DB = 0.5


@dataclass(frozen=True)
class Loudness:
    """An EBU R128 / ITU-R BS.1770 measurement (FFmpeg's ``ebur128``)."""

    integrated_lufs: float
    true_peak_dbtp: float
    lra_lu: float

    def as_dict(self) -> dict[str, Optional[float]]:
        """Rounded figures; ``None`` where there is no finite figure (silence: below the meter's gate)."""
        return {k: round(v, 2) if math.isfinite(v) else None for k, v in asdict(self).items()}

    def sentence(self) -> str:
        if not math.isfinite(self.integrated_lufs):
            return "silent (below the meter's -70 LUFS gate)"
        return (
            f"{self.integrated_lufs:.1f} LUFS integrated, {self.true_peak_dbtp:.1f} dBTP true peak, "
            f"LRA {self.lra_lu:.1f} LU"
        )


@dataclass
class Mixdown:
    """One finished video's mix: see the module's contract. ``work`` is a private folder that outlives the mux."""

    options: PipelineOptions
    work: Path
    cues: Optional[Path] = None  # a soundtrack's cues layer (clocked like ``generated``), summed in and kept as a stem
    stems: dict[str, Path] = field(default_factory=dict)
    premaster: Optional[Loudness] = None
    notes: list[str] = field(default_factory=list)

    @staticmethod
    def wanted(options: PipelineOptions) -> bool:
        """Whether ``options`` ask for anything only a mixdown does (duck, loudness, stems, a timeline)."""
        return (
            options.original_audio == "duck"
            or options.loudness != "none"
            or options.stems
            or options.timeline != "none"
        )

    def render(
        self,
        generated: Path,
        original: Optional[Path],
        plan: MediaPlan,
        *,
        rate: int,
        t0: float,
        length: float,
        pad: float,
    ) -> Iterator[Any]:
        """Write the pre-master stems, measure the mix, yield the result track's frames (fltp stereo at ``rate``).

        ``original`` is the clip when its sound is in the mix (``None``: replace, or a clip without sound);
        ``t0``, ``length`` and ``pad`` place the audio on the output clock as :func:`mux_generated_audio` does.
        """
        options = self.options
        self.work.mkdir(parents=True, exist_ok=True)
        at = plan.origin + t0
        keyed_by: Optional[Loudness] = None
        if original is not None:
            layer = AudioMix(rate, "flt")
            layer.add_input(original, trim_from=at, shift=at, pad=0.0, length=length, gain=options.original_level)
            self.stems["original"], keyed_by = _write_wav(layer, self.work / "original.wav", rate, measure=True)
        bed = AudioMix(rate, "flt")
        bed.add_input(generated, trim_from=0.0, shift=0.0, pad=pad, length=length, gain=options.generated_level)
        duck = options.original_audio == "duck" and original is not None
        if duck and keyed_by is not None and keyed_by.integrated_lufs > SILENT_LUFS:
            # the key is the clip's sound as heard, already on the output clock: its stem (no second decode)
            bed.add_input(self.stems["original"], trim_from=0.0, shift=0.0, pad=0.0, length=length, gain=1.0)
            self.stems["bed"], _ = _write_wav(
                bed, self.work / "bed.wav", rate, combine=_ducker(options.duck_db, keyed_by.integrated_lufs)
            )
        else:
            if duck:
                self.notes.append("The clip's own sound is silent in this segment, so the bed was not ducked.")
            self.stems["bed"], _ = _write_wav(bed, self.work / "bed.wav", rate)
        if self.cues is not None:
            layer = AudioMix(rate, "flt")
            layer.add_input(self.cues, trim_from=0.0, shift=0.0, pad=pad, length=length, gain=options.generated_level)
            self.stems["cues"], _ = _write_wav(layer, self.work / "cues.wav", rate)
        mix = AudioMix(rate, "flt")
        for name in STEM_ORDER[:-1]:
            if name in self.stems:
                mix.add_input(self.stems[name], trim_from=0.0, shift=0.0, pad=0.0, length=length, gain=1.0)
        self.stems["mix"], self.premaster = _write_wav(mix, self.work / "mix.wav", rate, measure=True)
        yield from self._master(rate, length)

    def _master(self, rate: int, length: float) -> Iterator[Any]:
        """The result track: the pre-master mix, normalised (pass 2) when a loudness target is set."""
        final = AudioMix(rate, "fltp")
        final.add_input(self.stems["mix"], trim_from=0.0, shift=0.0, pad=0.0, length=length, gain=1.0)
        target = loudness_target(self.options.loudness)
        if target is None:
            yield from final.frames()
            return
        assert self.premaster is not None
        if self.premaster.integrated_lufs <= SILENT_LUFS:
            self.notes.append("The mix is silent, so its loudness was left as it is.")
            yield from final.frames()
            return
        _name, lufs, peak = target
        yield from final.frames(combine=_normaliser(self.premaster, lufs, peak - ENCODER_HEADROOM_DB, rate))


def sum_to_wav(layers: list[Path], dest: Path, length: float, rate: int = 48000) -> Path:
    """The sum of ``layers`` (each from its time 0, unscaled) over ``length`` seconds, as float WAV at ``dest``
    (e.g. a soundtrack's bed and cues as one generated track, for export). Blocking; raises :class:`MediaError`."""
    mix = AudioMix(rate, "flt")
    for layer in layers:
        mix.add_input(layer, trim_from=0.0, shift=0.0, pad=0.0, length=length, gain=1.0)
    return _write_wav(mix, dest, rate)[0]


# ------------------------------------------------------------------------------------------------------ measuring
def measure_loudness(path: Path) -> Loudness:
    """Integrated loudness, true peak and loudness range of ``path``'s first audio track, decoded (``ebur128``)."""
    import av

    try:
        with open_media(path) as container:
            if not container.streams.audio:
                raise MediaError(f"{path.name} has no audio track to measure.")
            rate = container.streams.audio[0].codec_context.sample_rate or 48000
        reader = AudioMix(rate, "flt")
        reader.add_input(path, trim_from=0.0, shift=0.0, pad=0.0, length=None, gain=1.0)
        totals: dict[str, str] = {}
        for frame in reader.frames(combine=_metered):
            _keep_totals(frame, totals)
    except av.error.FFmpegError as exc:
        raise MediaError(f"Could not measure the loudness of {path.name} ({exc}).") from exc
    return _reading(totals)


def _metered(graph: Any, tails: list[Any]) -> Any:
    meter = graph.add("ebur128", "metadata=1:peak=true")
    tails[0].link_to(meter)
    return meter


def _keep_totals(frame: Any, totals: dict[str, str]) -> None:
    """Keep the running totals ``ebur128`` attaches to a frame that ends a 100 ms block (the last: the whole)."""
    meta = frame.metadata
    if "lavfi.r128.I" in meta:
        totals.clear()
        totals.update(meta)


def _reading(meta: dict[str, str]) -> Loudness:
    """A measurement from ``ebur128``'s totals (no totals: nothing measurable, e.g. shorter than a block)."""
    if "lavfi.r128.I" not in meta:
        return Loudness(-math.inf, -math.inf, 0.0)
    peak = float(meta.get("lavfi.r128.true_peak", 0.0))
    return Loudness(
        integrated_lufs=float(meta["lavfi.r128.I"]),
        true_peak_dbtp=20 * math.log10(peak) if peak > 0 else -math.inf,
        lra_lu=float(meta.get("lavfi.r128.LRA", 0.0)),
    )


# ------------------------------------------------------------------------------------------------------ graphs
def _ducker(duck_db: float, key_lufs: float):  # type: ignore[no-untyped-def]
    """``combine`` for :meth:`AudioMix.frames`: tails ``[bed, key]`` -> the bed, side-chain compressed by the key."""
    threshold = min(1.0, max(0.000976563, 10 ** ((key_lufs - DUCK_THRESHOLD_BELOW_DB) / 20)))
    wet = 1 - 10 ** (-duck_db / 20)
    args = (
        f"threshold={threshold:.6f}:ratio={DUCK_RATIO}:attack={DUCK_ATTACK_MS}:release={DUCK_RELEASE_MS}"
        f":makeup=1:mix={wet:.6f}:detection=rms"
    )

    def combine(graph: Any, tails: list[Any]) -> Any:
        # AudioMix pushes the bed whole before the key; sidechaincompress would end at the bed's end of stream
        # before the key arrived, so the bed is held open (apad) and the key's end, exactly ``length``, ends it
        held = graph.add("apad")
        ducker = graph.add("sidechaincompress", args)
        tails[0].link_to(held)
        held.link_to(ducker, 0, 0)
        tails[1].link_to(ducker, 0, 1)
        return ducker

    return combine


def _normaliser(measured: Loudness, lufs: float, peak: float, rate: int):  # type: ignore[no-untyped-def]
    """``combine``: ``loudnorm`` given the pass-1 measurements, back to ``rate`` (loudnorm works at 192 kHz).

    With the measurements loudnorm applies one gain (its linear mode) whenever that keeps the true peak under
    ``peak``; otherwise it compresses and limits dynamically. The loudness range target is at least the measured
    one, so loudnorm never squeezes the range just to meet it.
    """
    lra_target = min(50.0, max(11.0, math.ceil(measured.lra_lu + 1)))
    true_peak = max(-9.0, measured.true_peak_dbtp) if math.isfinite(measured.true_peak_dbtp) else -9.0
    args = (
        f"I={lufs:.2f}:TP={peak:.2f}:LRA={lra_target:.1f}:measured_I={measured.integrated_lufs:.2f}"
        f":measured_TP={true_peak:.2f}:measured_LRA={measured.lra_lu:.2f}"
        f":measured_thresh={measured.integrated_lufs - 10:.2f}:linear=true"
    )

    def combine(graph: Any, tails: list[Any]) -> Any:
        normaliser = graph.add("loudnorm", args)
        back = graph.add("aresample", str(rate))
        tails[0].link_to(normaliser)
        normaliser.link_to(back)
        return back

    return combine


def _write_wav(
    mix: AudioMix, dest: Path, rate: int, *, combine: Any = None, measure: bool = False
) -> tuple[Path, Optional[Loudness]]:
    """Write ``mix``'s output to ``dest`` as float WAV (32-bit, lossless: stems sum back exactly); with
    ``measure``, also measure it on the way (``ebur128``) and return the reading."""
    import av

    def with_meter(graph: Any, tails: list[Any]) -> Any:
        last = combine(graph, tails) if combine is not None else _summed(graph, tails)
        meter = graph.add("ebur128", "metadata=1:peak=true")
        last.link_to(meter)
        return meter

    totals: dict[str, str] = {}
    try:
        with av.open(str(dest), "w", format="wav") as out:
            stream = out.add_stream("pcm_f32le", rate=rate, layout="stereo")
            for frame in mix.frames(combine=with_meter if measure else combine):
                if measure:
                    _keep_totals(frame, totals)
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
    except av.error.FFmpegError as exc:
        raise MediaError(f"Could not write the {dest.stem} stem ({exc}).") from exc
    return dest, (_reading(totals) if measure else None)


def _summed(graph: Any, tails: list[Any]) -> Any:
    """What :meth:`AudioMix.frames` does by default: one input as it is, several summed (``amix``, no scaling)."""
    if len(tails) == 1:
        return tails[0]
    summed = graph.add("amix", f"inputs={len(tails)}:duration=first:normalize=0")
    for index, tail in enumerate(tails):
        tail.link_to(summed, 0, index)
    return summed

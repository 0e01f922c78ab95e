"""Put fal's generated audio onto the ORIGINAL video (stream-copied, full quality), and export the track alone.

Contract of :func:`mux_generated_audio`: ``dest`` gets the original's video packets for the segment, copied
without re-encoding, plus one audio track made from fal's result - replacing the clip's sound, or mixed over it -
as long as the segment. When fal's AAC fits unchanged (an AAC container, nothing mixed, shifted or re-levelled) its
packets are copied (at most one AAC frame past the segment); otherwise the track is rendered and encoded (AAC, or
Opus for WebM) exactly as long as the segment. Memory is bounded: video is streamed packet by packet;
audio (at most ~30 s) is encoded up front and interleaved by time.

The generated track is the result's first audio track (``replace``: it takes the place of the clip's first track;
``mix``: that track is mixed under it). Further audio tracks, subtitles, chapters and metadata are carried over
(:mod:`alice_mcp.media.streams`; a note names what the container cannot hold). Encoded AAC carries its priming
(1024 samples) as a negative first timestamp, which the muxer signals, so it plays on time. A mono track is rendered
to both channels at unity gain.

Keyframes: a stream copy must start on a keyframe, at or before the segment start. MP4/MOV get an edit list that
hides that lead-in, so the result plays exactly ``[start, end]``. Matroska/WebM have no edit lists: the lead-in
frames stay, with silence (``replace``) or the clip's own sound (``mix``) under them, and the generated audio
starts at ``start``, in sync.

Blocking (PyAV): run in a worker thread. Raises :class:`MediaError`.
"""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Protocol, cast

from alice_mcp.data.params import PipelineOptions
from alice_mcp.media.open_input import open_media
from alice_mcp.media.plan import MediaPlan
from alice_mcp.media.prepare import Cancelled, MediaError
from alice_mcp.media.streams import copy_labels, copy_stream, extra_streams, has_faststart

if TYPE_CHECKING:
    from av.audio.frame import AudioFrame
    from av.filter.context import FilterContext


class TrackRenderer(Protocol):
    """Makes the result's audio track instead of the plain mix (:class:`alice_mcp.media.mixdown.Mixdown`)."""

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
    ) -> Iterator[Any]: ...


_EDIT_LIST_MUXERS = ("mp4", "mov")
_EXPORTS = {"wav": ("wav", "pcm_s16le"), "flac": ("flac", "flac"), "m4a": ("ipod", "aac")}
# FFmpeg's native AAC encoder defaults to its "twoloop" coder, ~1 ms per 1024-sample frame here; "fast" halved the
# whole finish step for a 2 s clip (103 → 53 ms, measured with cProfile over 10 runs) at 192 kbit/s, where the two
# are hard to tell apart.
FAST_AAC = {"aac_coder": "fast"}


def audio_codec_for(muxer: str) -> tuple[str, int]:
    """``(encoder, sample rate)`` of the result's audio: Opus 48 kHz for WebM, AAC 48 kHz elsewhere."""
    return ("libopus", 48000) if muxer == "webm" else ("aac", 48000)


def mux_generated_audio(
    original: Path,
    plan: MediaPlan,
    generated: Path,
    dest: Path,
    options: PipelineOptions,
    stop: Optional[threading.Event] = None,
    mixdown: Optional[TrackRenderer] = None,
) -> list[str]:
    """Write ``dest`` (format ``plan.output_format``); returns notes for the user. With ``mixdown`` the track is made
    by it (ducking, stems, loudness: :mod:`alice_mcp.media.mixdown`)."""
    import av

    notes: list[str] = []
    edit_list = plan.output_format in _EDIT_LIST_MUXERS
    t0 = plan.start if edit_list else plan.keyframe  # output time 0, on the clip's clock
    length = plan.end - t0
    mix = options.original_audio in ("mix", "duck") and plan.has_audio
    if options.original_audio in ("mix", "duck") and not plan.has_audio:
        notes.append(
            f"The clip has no sound of its own, so original_audio={options.original_audio} made no difference."
        )
    if plan.lead > 0.001 and not edit_list:
        notes.append(
            f"The video is copied without re-encoding, which must start on a keyframe: the result starts "
            f"{plan.lead:.2f} s before start_time, {'with the clip’s own sound' if mix else 'silent'} until then."
        )
    encoder_name, rate = audio_codec_for(plan.output_format)
    _check(stop)
    try:
        # B-frames at the end need reference frames shown just after it: the audio covers those too
        length = max(length, copied_video_end(original, plan, stop) - t0)
        faststart = plan.output_format in _EDIT_LIST_MUXERS and has_faststart(original)
        out_options = {"movflags": "+faststart"} if faststart else {}
        with av.open(str(dest), "w", format=plan.output_format, options=out_options) as out:
            with open_media(original) as source:
                video = source.streams.video[0]
                video_out = copy_stream(out, video)
                copy_labels(source, out, start=plan.origin + t0, length=length)
                extras, extra_notes = extra_streams(source, plan.output_format)
                notes.extend(extra_notes)
                with open_media(generated) as fal_file:
                    copyable = _copyable_audio(fal_file, encoder_name, length, mix, plan.start - t0, options)
                    copyable = None if mixdown is not None else copyable
                    if copyable is not None:  # fal's AAC fits as it is: copy it, no decode/encode
                        audio_out = out.add_stream_from_template(copyable)
                        audio_packets = _copied_audio(fal_file, copyable, audio_out, length)
                    else:
                        audio_out = out.add_stream(encoder_name, rate=rate, layout="stereo")
                        audio_out.bit_rate = 128_000 if encoder_name == "libopus" else 192_000
                        if encoder_name == "aac":
                            audio_out.options = dict(FAST_AAC)
                        audio_packets = _render_audio(
                            generated,
                            original if mix else None,
                            plan,
                            audio_out,
                            rate,
                            t0=t0,
                            length=length,
                            pad=plan.start - t0,
                            options=options,
                            mixdown=mixdown,
                        )
                    if source.streams.audio and "language" in source.streams.audio[0].metadata:
                        audio_out.metadata["language"] = source.streams.audio[0].metadata["language"]
                # after the generated track, which replaces the clip's first audio track and stays the default
                extra_out = {stream.index: copy_stream(out, stream) for stream in extras}
                if extra_out:
                    audio_packets = sorted(
                        list(audio_packets) + _extra_packets(original, extra_out, plan.origin + t0, length),
                        key=_seconds,
                    )
                _interleave(out, source, video, video_out, audio_packets, plan, t0, stop)
    except av.error.FFmpegError as exc:
        raise MediaError(f"Could not put the generated audio onto {original.name} ({exc}).") from exc
    return notes


def export_audio(
    generated: Path, dest: Path, audio_format: str, length: Optional[float], stop: Optional[threading.Event] = None
) -> None:
    """Write fal's generated track alone (``length`` seconds, or all of it) as ``wav``, ``flac`` or ``m4a``."""
    import av

    _check(stop)
    muxer, codec = _EXPORTS[audio_format]
    try:
        with open_media(generated) as probe:
            stream = probe.streams.audio[0]
            rate = stream.codec_context.sample_rate or 44100
            total = float(stream.duration * stream.time_base) if stream.duration else None
        seconds = length if length is not None else total
        with av.open(str(dest), "w", format=muxer) as out:
            stream = out.add_stream(codec, rate=rate, layout="stereo")
            if codec == "aac":
                stream.bit_rate = 192_000
                stream.options = dict(FAST_AAC)
            mix = AudioMix(rate, "s16" if codec in ("pcm_s16le", "flac") else "fltp")
            mix.add_input(generated, trim_from=0.0, shift=0.0, pad=0.0, length=seconds, gain=1.0)
            for frame in mix.frames():
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
    except (av.error.FFmpegError, IndexError) as exc:
        raise MediaError(f"Could not write the generated audio as {audio_format} ({exc}).") from exc


# ------------------------------------------------------------------------------------------------------ audio
def _copyable_audio(fal_file, encoder_name: str, length: float, mix: bool, pad: float, options: PipelineOptions):  # type: ignore[no-untyped-def]
    """fal's audio stream if the result can carry it unchanged (AAC into an AAC container, nothing mixed, shifted or
    re-levelled, and long enough for the video); else ``None`` (the track is rendered and encoded)."""
    if (
        encoder_name != "aac"
        or mix
        or pad > 1e-3
        or abs(options.generated_level - 1.0) > 1e-6
        or not fal_file.streams.audio
    ):
        return None
    stream = fal_file.streams.audio[0]
    if stream.codec_context.name != "aac" or not stream.duration or stream.time_base is None:
        return None
    frame_s = 1024 / (stream.codec_context.sample_rate or 44100)
    return stream if float(stream.duration * stream.time_base) >= length - frame_s else None


def _copied_audio(fal_file, stream, audio_out, length: float) -> list:  # type: ignore[no-untyped-def]
    """fal's AAC packets that start before ``length`` seconds, re-homed on ``audio_out`` (at most one frame over)."""
    packets = []
    for packet in fal_file.demux(stream):
        if packet.pts is None or packet.size == 0:
            continue
        if float(packet.pts * packet.time_base) >= length:
            break
        packet.stream = audio_out
        packets.append(packet)
    return packets


def _render_audio(generated, original, plan, stream, rate, *, t0, length, pad, options, mixdown=None) -> list:  # type: ignore[no-untyped-def]
    """Encode the result's whole audio track into packets (small: ≤ ~30 s), ready to interleave."""
    if mixdown is not None:
        frames = mixdown.render(generated, original, plan, rate=rate, t0=t0, length=length, pad=pad)
    else:
        mix = AudioMix(rate, "fltp")
        mix.add_input(generated, trim_from=0.0, shift=0.0, pad=pad, length=length, gain=options.generated_level)
        if original is not None:
            at = plan.origin + t0
            mix.add_input(original, trim_from=at, shift=at, pad=0.0, length=length, gain=options.original_level)
        frames = mix.frames()
    packets = []
    for frame in frames:
        packets.extend(stream.encode(frame))
    packets.extend(stream.encode(None))
    return packets


class AudioMix:
    """An FFmpeg filter graph that lines audio inputs up on one timeline and sums them.

    Each input is trimmed to start at ``trim_from`` (seconds on its own clock), moved so that ``shift`` becomes
    0 and then ``pad`` later (silence fills any gap), cut or padded to exactly ``length`` seconds, and scaled by
    ``gain``. Output: stereo ``sample_fmt`` frames at ``rate``. Streaming: memory does not grow with the input.
    """

    def __init__(self, rate: int, sample_fmt: str) -> None:
        import av.filter

        self.graph = av.filter.Graph()
        self.rate = rate
        self.sample_fmt = sample_fmt
        self._inputs: list[tuple[Path, FilterContext, float]] = []
        self._tails: list[FilterContext] = []

    def add_input(
        self, path: Path, *, trim_from: float, shift: float, pad: float, length: Optional[float], gain: float
    ) -> None:

        with open_media(path) as container:
            if not container.streams.audio:
                raise MediaError(f"{path.name} has no audio track.")
            stream = container.streams.audio[0]
            ctx = stream.codec_context
            buffer = self.graph.add_abuffer(
                format=ctx.format.name, sample_rate=ctx.sample_rate, layout=ctx.layout.name, time_base=stream.time_base
            )
        steps = []
        if ctx.layout.nb_channels == 1:
            # a mono track (MMAudio's) goes to both channels at unity gain: FFmpeg's default upmix would put it
            # 3 dB down on each, so the same request would sound quieter on one path than another
            steps.append(("pan", "stereo|c0=c0|c1=c0"))
        steps += [
            ("atrim", f"start={trim_from:.6f}"),
            ("asetpts", f"PTS-{shift:.6f}/TB+{pad:.6f}/TB"),
            ("aresample", f"{self.rate}:async=1:first_pts=0"),
            ("aformat", f"sample_fmts=fltp:sample_rates={self.rate}:channel_layouts=stereo"),
        ]
        if length is not None:
            steps += [("apad", f"whole_dur={length:.6f}"), ("atrim", f"end={length:.6f}")]
        steps.append(("volume", f"{gain:.4f}"))
        node = buffer
        for name, args in steps:
            following = self.graph.add(name, args)
            node.link_to(following)
            node = following
        self._inputs.append((path, buffer, trim_from))
        self._tails.append(node)

    def frames(self, combine: Optional[Callable[[object, list], object]] = None) -> Iterator:  # type: ignore[type-arg]
        """Configure the graph, push every input through it, yield the output frames. ``combine(graph, tails)``,
        if given, joins the inputs' last nodes into one node its own way (default: summed with ``amix``)."""
        import av

        last: FilterContext
        if combine is not None:
            last = cast("FilterContext", combine(self.graph, self._tails))  # the combiner's last filter
        elif len(self._tails) == 1:
            last = self._tails[0]
        else:
            last = self.graph.add("amix", f"inputs={len(self._tails)}:duration=first:normalize=0")
            for index, tail in enumerate(self._tails):
                tail.link_to(last, 0, index)
        out_format = self.graph.add(
            "aformat", f"sample_fmts={self.sample_fmt}:sample_rates={self.rate}:channel_layouts=stereo"
        )
        last.link_to(out_format)
        sink = self.graph.add("abuffersink")
        out_format.link_to(sink)
        self.graph.configure()

        written = 0

        def drain() -> Iterator:  # type: ignore[type-arg]
            # Frames carry their sample position: with timestamps the AAC encoder's first packet starts 1024
            # samples early (its priming) and the muxer signals that (MP4 edit list), so audio plays on time.
            nonlocal written
            while True:
                try:
                    frame = cast("AudioFrame", sink.pull())  # the graph ends in an audio sink
                except (av.BlockingIOError, av.EOFError):
                    return
                frame.pts, frame.time_base = written, Fraction(1, self.rate)
                written += frame.samples
                yield frame

        for path, buffer, trim_from in self._inputs:
            with open_media(path) as container:
                stream = container.streams.audio[0]
                if trim_from > 0.5:
                    container.seek(int((trim_from - 0.5) / stream.time_base), stream=stream, backward=True)
                for frame in container.decode(stream):
                    buffer.push(frame)
                    yield from drain()
            buffer.push(None)
            yield from drain()
        yield from drain()


def _extra_packets(original: Path, extra_out: dict, start: float, length: float) -> list:  # type: ignore[type-arg]
    """The packets of the carried extra tracks (second audio, subtitles) shown in ``[start, start + length)``
    (s, file clock), shifted so ``start`` is 0 and re-homed on their output streams (small: ≤ ~30 s)."""

    packets = []
    with open_media(original) as source:
        streams = [source.streams[index] for index in extra_out]
        for packet in source.demux(*streams):
            if packet.pts is None or not packet.size:
                continue
            tb = packet.time_base
            at = float(packet.pts * tb)
            if at < start - 1e-3 or at >= start + length:
                continue
            shift = int(round(start / tb))
            packet.pts -= shift
            packet.dts = packet.pts if packet.dts is None else packet.dts - shift
            packet.stream = extra_out[packet.stream_index]
            packets.append(packet)
    return packets


# ------------------------------------------------------------------------------------------------------ video
def _interleave(out, source, video, video_out, audio_packets, plan: MediaPlan, t0: float, stop) -> None:  # type: ignore[no-untyped-def]
    """Copy the segment's video packets (from the keyframe), shifted so ``t0`` is 0, interleaved with the audio."""
    from alice_mcp.media.prepare import seek_to_keyframe, segment_packets

    tb = video.time_base
    shift = int(round((plan.origin + t0) / tb))
    target = seek_to_keyframe(source, video, plan.origin + plan.keyframe)
    end_pts = int(round((plan.origin + plan.end) / tb))
    pending = list(audio_packets)
    audio_index = 0
    first: Optional[int] = None
    for packet in segment_packets(source, video, target, end_pts, stop):
        first = packet.pts if first is None else first
        now = float((packet.dts - shift) * tb)
        while audio_index < len(pending) and _seconds(pending[audio_index]) <= now:
            out.mux(pending[audio_index])
            audio_index += 1
        packet.pts -= shift
        packet.dts -= shift
        packet.stream = video_out
        out.mux(packet)
    if first is None:
        raise MediaError(f"{Path(plan.source).name} has no video between {plan.keyframe:g} s and {plan.end:g} s.")
    for packet in pending[audio_index:]:
        out.mux(packet)


def copied_video_end(original: Path, plan: MediaPlan, stop: Optional[threading.Event] = None) -> float:
    """Where the stream-copied video of ``plan``'s segment stops being shown (s, clip clock): ``plan.end``, or a few
    frames later when trailing B-frames need reference frames from after the end."""

    from alice_mcp.media.prepare import seek_to_keyframe, segment_packets

    end = plan.end
    with open_media(original) as source:
        video = source.streams.video[0]
        tb = video.time_base
        target = seek_to_keyframe(source, video, plan.origin + plan.keyframe)
        frame_s = 1 / float(video.average_rate or video.base_rate or 25)
        for packet in segment_packets(source, video, target, int(round((plan.origin + plan.end) / tb)), stop):
            shown = float(packet.pts * tb) - plan.origin + (float(packet.duration * tb) if packet.duration else frame_s)
            end = max(end, shown)
    return end


def _check(stop: Optional[threading.Event]) -> None:
    if stop is not None and stop.is_set():
        raise Cancelled()


def _seconds(packet) -> float:  # type: ignore[no-untyped-def]
    ts = packet.dts if packet.dts is not None else packet.pts
    return float(ts * packet.time_base) if ts is not None else 0.0

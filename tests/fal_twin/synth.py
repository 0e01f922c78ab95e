"""Media synthesis for job outputs (PyAV only, no numpy), plus test helpers.

Contract
--------
* ``mmaudio_video(src, dst, duration, seed, prompt, mode)``: like upstream
  MMAudio (reference §6) reads the video from t=0 to
  ``min(video length, duration)`` and writes an MP4 with that video
  (``mode="reencode"``: H.264/libx264 ultrafast, same size and frame rate,
  odd sizes cropped to even; ``"copy"``: packets stream-copied, falling back
  to re-encoding when the codec cannot go into MP4) plus a NON-silent AAC
  44.1 kHz stereo track of the same length. Returns the output length (s).
  Raises :class:`InputError` when ``src`` has no decodable video.
* ``text_to_audio(dst, duration, seed, prompt)``: FLAC 44.1 kHz stereo.
* ``kling_video(dst, seconds, aspect_ratio, seed)``: H.264 MP4, 24 fps,
  640x360 / 360x640 / 480x480, moving pattern, no audio.
* Test helpers: ``make_clip(path, seconds, ...)`` writes an H.264 (+AAC)
  clip; ``probe(path)`` decodes a file and reports measured stream lengths
  and the audio peak.
Audio content is a seeded tone sequence + noise: it depends on seed/prompt.

Sync markers (``clicks=True``, the twin's ``sync_clicks`` knob): ``mmaudio_video``
looks at every frame of the video it was given; where a white flash starts (a
frame whose mean luma is above ``FLASH_LUMA`` after one that is not), it puts a
sharp click (``CLICK_S`` of a 2 kHz tone at ``CLICK_LEVEL``, both channels) at
that frame's time on the video's own timeline (0 = its first frame), so a test
can measure where the generated audio lands against the picture.
``channels=1`` writes a mono track (what the audit found MMAudio returns).
"""

from __future__ import annotations

import array
import hashlib
import math
import random
from fractions import Fraction

import av

RATE = 44100
FRAME = 1024
FLASH_LUMA = 160
CLICK_S = 0.003
CLICK_LEVEL = 0.9
CLICK_HZ = 2000.0


class InputError(Exception):
    """The job input is unusable (-> the job completes with a 422 error)."""

    def __init__(self, error_type: str, msg: str) -> None:
        super().__init__(msg)
        self.error_type = error_type
        self.msg = msg


def _seed(seed: int | None, prompt: str) -> int:
    digest = hashlib.sha256(f"{seed}|{prompt}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _pcm(seconds: float, seed: int | None, prompt: str) -> bytes:
    """Interleaved s16 stereo PCM of ``seconds``: 4 seeded tones + noise."""
    rng = random.Random(_seed(seed, prompt))
    seg_len = RATE // 4
    base = 180 + rng.random() * 500
    segments = []
    for k in range(4):
        freq = base * (1.0, 1.25, 1.5, 2.0)[k]
        step = 2 * math.pi * freq / RATE
        pcm = array.array("h", bytes(seg_len * 4))
        for i in range(seg_len):
            env = 0.5 + 0.5 * math.sin(math.pi * i / seg_len)
            v = 9000 * env * math.sin(step * i) + rng.uniform(-1200, 1200)
            pcm[2 * i] = int(v)
            pcm[2 * i + 1] = int(v * 0.8)
        segments.append(pcm.tobytes())
    order = [rng.randrange(4) for _ in range(16)]
    pattern = b"".join(segments[k] for k in order)  # 4 s
    need = int(round(seconds * RATE)) * 4
    return (pattern * (need // len(pattern) + 1))[:need]


def flash_onsets(src: str, duration: float) -> list[float]:
    """Times (s from the first frame) where a white flash starts in ``src``'s first video stream, before
    ``duration``."""
    onsets: list[float] = []
    with av.open(src) as inp:
        vs = inp.streams.video[0]
        vs.thread_type = "AUTO"
        t0 = None
        lit = False
        try:
            for frame in inp.decode(vs):
                if frame.time is None:
                    continue
                t0 = frame.time if t0 is None else t0
                if frame.time - t0 >= duration:
                    break
                small = frame.reformat(width=16, height=16, format="gray")
                plane = bytes(small.planes[0])
                luma = sum(plane[y * small.planes[0].line_size + x] for y in range(16) for x in range(16)) / 256
                now = luma > FLASH_LUMA
                if now and not lit:
                    onsets.append(frame.time - t0)
                lit = now
        except av.error.FFmpegError:
            pass
    return onsets


def _add_clicks(pcm: bytes, onsets: list[float]) -> bytes:
    """Overwrite a ``CLICK_S`` 2 kHz burst at each onset (s) of interleaved s16 stereo ``pcm``."""
    if not onsets:
        return pcm
    samples = array.array("h", pcm)
    total = len(samples) // 2
    length = int(CLICK_S * RATE)
    for onset in onsets:
        first = int(round(onset * RATE))
        for i in range(length):
            if first + i >= total:
                break
            value = int(32767 * CLICK_LEVEL * math.sin(2 * math.pi * CLICK_HZ * (i + 0.5) / RATE))
            samples[2 * (first + i)] = value
            samples[2 * (first + i) + 1] = value
    return samples.tobytes()


def _mono(pcm: bytes) -> bytes:
    samples = array.array("h", pcm)
    return samples[0::2].tobytes()


def _write_audio(
    container: av.container.OutputContainer, stream: av.stream.Stream, pcm: bytes, channels: int = 2
) -> None:
    width = 2 * channels
    total = len(pcm) // width
    for start in range(0, total, FRAME):
        n = min(FRAME, total - start)
        frame = av.AudioFrame(format="s16", layout="stereo" if channels == 2 else "mono", samples=n)
        chunk = pcm[start * width : (start + n) * width]
        size = frame.planes[0].buffer_size
        frame.planes[0].update(chunk + bytes(size - len(chunk)))
        frame.sample_rate = RATE
        frame.pts = start
        frame.time_base = Fraction(1, RATE)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def _x264(container: av.container.OutputContainer, rate: Fraction, width: int, height: int) -> av.stream.Stream:
    stream = container.add_stream("libx264", rate=rate, options={"preset": "ultrafast", "crf": "28"})
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.codec_context.thread_count = 2
    return stream


def _reencode(
    inp: av.container.InputContainer, vs: av.stream.Stream, out: av.container.OutputContainer, duration: float
) -> float:
    rate = vs.average_rate or vs.guessed_rate or Fraction(25)
    width, height = vs.codec_context.width // 2 * 2, vs.codec_context.height // 2 * 2
    if width < 2 or height < 2:
        raise InputError("video_decode_error", "Video has no usable frames")
    ov = _x264(out, Fraction(rate), width, height)
    t0 = None
    last_t = None
    index = 0
    prev_pts = -1
    try:
        for frame in inp.decode(vs):
            t = frame.time if frame.time is not None else index / float(rate)
            t0 = t if t0 is None else t0
            rel = t - t0
            if rel >= duration - 1e-6:
                break
            img = (
                frame.reformat(width=width, height=height, format="yuv420p")
                if (frame.width != width or frame.height != height or frame.format.name != "yuv420p")
                else frame
            )
            pts = max(prev_pts + 1, int(round(rel * float(rate))))
            img.pts, img.time_base = pts, Fraction(1) / Fraction(rate)
            img.pict_type = av.video.frame.PictureType.NONE
            prev_pts = pts
            for packet in ov.encode(img):
                out.mux(packet)
            last_t = rel
            index += 1
    except av.error.FFmpegError:
        if last_t is None:
            raise InputError("video_decode_error", "The video could not be decoded")
    if last_t is None:
        raise InputError("video_decode_error", "The video has no decodable frames")
    for packet in ov.encode(None):
        out.mux(packet)
    return min(duration, last_t + 1 / float(rate))


def _copy(
    inp: av.container.InputContainer, vs: av.stream.Stream, out: av.container.OutputContainer, duration: float
) -> float:
    ov = out.add_stream_from_template(vs)
    tb = vs.time_base
    start = vs.start_time or 0
    end = None
    for packet in inp.demux(vs):
        if packet.dts is None or packet.pts is None:
            continue
        if float((packet.dts - start) * tb) >= duration:
            break
        t = float((packet.pts - start) * tb)
        if t >= duration:
            continue
        dur = float(packet.duration * tb) if packet.duration else 1 / float(vs.average_rate or 25)
        end = max(end or 0.0, t + dur)
        packet.stream = ov
        out.mux(packet)
    if end is None:
        raise InputError("video_decode_error", "The video has no decodable frames")
    return min(duration, end)


def _open_video(src: str) -> tuple[av.container.InputContainer, av.stream.Stream]:
    try:
        inp = av.open(src)
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise InputError("video_decode_error", f"The file could not be read as a video: {exc}") from exc
    vs = next((s for s in inp.streams.video), None)
    if vs is None or not vs.codec_context.width:
        inp.close()
        raise InputError("video_decode_error", "The file contains no video stream")
    vs.thread_type = "AUTO"
    return inp, vs


def _track(length: float, seed: int | None, prompt: str, onsets: list[float], channels: int) -> bytes:
    pcm = _add_clicks(_pcm(length, seed, prompt), onsets)
    return pcm if channels == 2 else _mono(pcm)


def mmaudio_video(
    src: str,
    dst: str,
    duration: float,
    seed: int | None,
    prompt: str,
    mode: str = "reencode",
    channels: int = 2,
    clicks: bool = False,
) -> float:
    layout = "stereo" if channels == 2 else "mono"
    if mode == "copy":
        inp, vs = _open_video(src)
        try:
            onsets = flash_onsets(src, duration) if clicks else []
            with av.open(dst, "w", format="mp4") as out:
                audio = out.add_stream("aac", rate=RATE, layout=layout)
                length = _copy(inp, vs, out, duration)
                _write_audio(out, audio, _track(length, seed, prompt, onsets, channels), channels)
            return length
        except InputError:
            raise
        except (av.error.FFmpegError, ValueError):
            pass  # codec cannot be stream-copied into MP4: re-encode instead
        finally:
            inp.close()
    inp, vs = _open_video(src)
    try:
        onsets = flash_onsets(src, duration) if clicks else []
        with av.open(dst, "w", format="mp4") as out:
            audio = out.add_stream("aac", rate=RATE, layout=layout)
            length = _reencode(inp, vs, out, duration)
            _write_audio(out, audio, _track(length, seed, prompt, onsets, channels), channels)
        return length
    finally:
        inp.close()


def text_to_audio(dst: str, duration: float, seed: int | None, prompt: str) -> float:
    with av.open(dst, "w", format="flac") as out:
        stream = out.add_stream("flac", rate=RATE, layout="stereo")
        _write_audio(out, stream, _pcm(duration, seed, prompt))
    return duration


def _pattern_frames(width: int, height: int, n: int, seed: int, tint: int = 0):
    ramp = bytes(range(256)) * ((width + height) // 256 + 4)
    for i in range(n):
        frame = av.VideoFrame(width, height, "yuv420p")
        y_plane, u_plane, v_plane = frame.planes
        pad = bytes(y_plane.line_size - width)
        shift = (seed + 5 * i) % 256
        y_plane.update(b"".join(ramp[(y + shift) % 256 : (y + shift) % 256 + width] + pad for y in range(height)))
        u_plane.update(bytes([(96 + tint + 2 * i) % 256]) * u_plane.buffer_size)
        v_plane.update(bytes([(160 - tint) % 256]) * v_plane.buffer_size)
        yield frame


def kling_video(dst: str, seconds: int, aspect_ratio: str, seed: int) -> float:
    width, height = {"16:9": (640, 360), "9:16": (360, 640), "1:1": (480, 480)}[aspect_ratio]
    fps = 24
    with av.open(dst, "w", format="mp4") as out:
        stream = _x264(out, Fraction(fps), width, height)
        for i, frame in enumerate(_pattern_frames(width, height, fps * seconds, seed)):
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return float(seconds)


def make_clip(
    path: str, seconds: float = 3.0, width: int = 320, height: int = 240, fps: int = 24, audio: bool = False
) -> str:
    """Write a small H.264 MP4 test clip (optionally with an AAC track)."""
    with av.open(path, "w", format="mp4") as out:
        stream = _x264(out, Fraction(fps), width, height)
        astream = out.add_stream("aac", rate=RATE, layout="stereo") if audio else None
        for i, frame in enumerate(_pattern_frames(width, height, int(round(seconds * fps)), 7, 40)):
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
        if astream is not None:
            _write_audio(out, astream, _pcm(seconds, 1, "clip"))
    return path


def probe(path: str) -> dict:
    """Decode ``path`` fully; report format, streams and measured lengths."""
    info: dict = {"video": None, "audio": None}
    with av.open(path) as c:
        info["format"] = c.format.name
        info["duration"] = c.duration / 1e6 if c.duration else None
        if c.streams.video:
            vs = c.streams.video[0]
            rate = vs.average_rate or 25
            frames = sum(1 for _ in c.decode(vs))
            info["video"] = {
                "codec": vs.codec_context.name,
                "width": vs.codec_context.width,
                "height": vs.codec_context.height,
                "fps": float(rate),
                "frames": frames,
                "seconds": frames / float(rate),
            }
    with av.open(path) as c:
        if c.streams.audio:
            st = c.streams.audio[0]
            samples, peak = 0, 0.0
            resampler = av.AudioResampler(format="s16", layout="stereo", rate=st.codec_context.sample_rate)
            for frame in c.decode(st):
                samples += frame.samples
                for out in resampler.resample(frame):
                    arr = array.array("h", bytes(out.planes[0])[: out.samples * 4])
                    if arr:
                        peak = max(peak, max(abs(min(arr)), abs(max(arr))) / 32768.0)
            info["audio"] = {
                "codec": st.codec_context.name,
                "rate": st.codec_context.sample_rate,
                "channels": st.codec_context.channels,
                "samples": samples,
                "seconds": samples / float(st.codec_context.sample_rate),
                "peak": peak,
            }
    return info


def video_seconds(src: str) -> float:
    """Length of ``src``'s video stream in seconds (container duration, else the stream's). Raises InputError."""
    inp, vs = _open_video(src)
    try:
        if vs.duration is not None and vs.time_base is not None:
            return float(vs.duration * vs.time_base)
        if inp.duration:
            return inp.duration / 1e6
        frames = sum(1 for _ in inp.decode(vs))
        return frames / float(vs.average_rate or 25)
    finally:
        inp.close()


#: audio file formats the foley endpoints return: fal's name -> (PyAV muxer, encoder, content type, suffix)
AUDIO_FORMATS = {
    "wav": ("wav", "pcm_s16le", "audio/wav", ".wav"),
    "flac": ("flac", "flac", "audio/flac", ".flac"),
    "mp3": ("mp3", "libmp3lame", "audio/mpeg", ".mp3"),
    "aac": ("adts", "aac", "audio/aac", ".aac"),
}


def audio_file(dst: str, seconds: float, seed: int | None, prompt: str, fmt: str = "wav") -> float:
    """A seeded stereo track of ``seconds`` in ``fmt`` (one of :data:`AUDIO_FORMATS`)."""
    muxer, codec, _, _ = AUDIO_FORMATS[fmt]
    with av.open(dst, "w", format=muxer) as out:
        stream = out.add_stream(codec, rate=RATE, layout="stereo")
        _write_audio(out, stream, _pcm(seconds, seed, prompt))
    return seconds

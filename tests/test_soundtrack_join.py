"""Joining a soundtrack's windows: equal-power crossfades measured in dB, sync in ms, cues at their gain, the seam
report, and the scene detector on clips with real cuts. All media is made here with PyAV and numpy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alice_mcp.data.timeline import window_limits
from alice_mcp.media.scenes import detect_scene_cuts, keyframe_times, scan_scene_cuts
from alice_mcp.media.soundtrack import CueAudio, WindowAudio, assemble_soundtrack, decode_audio, equal_power_fade
from alice_mcp.media.windows import plan_windows
from tests.soundtrack_media import FAL_RATE, make_scenes, write_audio

MMAUDIO = window_limits("fal-ai/mmaudio-v2")
OUT_RATE = 48000


def read_wav(path: Path) -> np.ndarray:
    return decode_audio(path)


def block_db(samples: np.ndarray, block: int) -> np.ndarray:
    """RMS level (dBFS) of consecutive ``block``-sample blocks of the left channel."""
    n = samples.shape[1] // block * block
    blocks = samples[0, :n].reshape(-1, block).astype(np.float64)
    return 20 * np.log10(np.sqrt((blocks**2).mean(axis=1)) + 1e-12)


def windows_of(plan, tmp: Path, make, suffix: str = ".wav") -> list[WindowAudio]:
    """Write each planned window's audio with ``make(t)`` (``t``: clip times of its samples) and describe it."""
    result = []
    for w in plan.windows:
        t = w.start + np.arange(int(round((w.end - w.start) * FAL_RATE))) / FAL_RATE
        path = write_audio(tmp / f"w{w.index}{suffix}", make(t, w.index))
        result.append(WindowAudio(path, w.start, w.end, w.fade_in, w.fade_out))
    return result


def test_equal_power_fade_gains_square_to_one() -> None:
    rising, falling = equal_power_fade(4800, True), equal_power_fade(4800, False)
    assert np.allclose(rising**2 + falling**2, 1.0, atol=1e-6)
    assert rising[0] < 0.001 and falling[-1] < 0.001


def test_a_steady_tone_never_dips_at_a_seam(tmp_path: Path) -> None:
    plan = plan_windows(0.0, 36.0, MMAUDIO, scene_cuts=[23.0])
    assert {s.kind for s in plan.seams} == {"crossfade", "scene_cut"}

    def tone(t: np.ndarray, _: int) -> np.ndarray:  # the same 500 Hz tone on the clip's clock in every window
        wave = 0.25 * np.sin(2 * np.pi * 500 * t)
        return np.stack([wave, wave])

    dest = tmp_path / "bed.wav"
    assemble_soundtrack(windows_of(plan, tmp_path, tone), [], 0.0, 36.0, dest)
    joined = read_wav(dest)
    assert joined.shape[1] == 36 * OUT_RATE
    levels = block_db(joined, 960)  # 20 ms = 10 whole cycles of 500 Hz
    steady = 20 * np.log10(0.25 / np.sqrt(2))
    assert levels.min() >= steady - 1.0, f"dip of {steady - levels.min():.2f} dB"
    assert levels.max() <= steady + 3.1  # in-phase copies add up to +3 dB at most under sin/cos gains


def test_independent_sound_keeps_its_power_through_every_crossfade(tmp_path: Path) -> None:
    plan = plan_windows(0.0, 40.0, MMAUDIO)
    rng = np.random.default_rng(7)

    def noise(t: np.ndarray, _: int) -> np.ndarray:
        wave = rng.normal(0, 0.1, t.shape[0])
        return np.stack([wave, wave])

    dest = tmp_path / "bed.wav"
    assemble_soundtrack(windows_of(plan, tmp_path, noise), [], 0.0, 40.0, dest)
    levels = block_db(read_wav(dest), 4800)[1:-1]  # 100 ms blocks
    assert np.abs(levels - 20 * np.log10(0.1)).max() <= 1.0


def _onsets(samples: np.ndarray, threshold: float) -> list[float]:
    """Seconds where the left channel first rises above ``threshold`` after ≥ 50 ms below it."""
    loud = np.abs(samples[0]) > threshold
    onsets, quiet_since = [], -OUT_RATE
    for i in np.flatnonzero(loud):
        if i - quiet_since > 0.05 * OUT_RATE:
            onsets.append(i / OUT_RATE)
        quiet_since = i
    return onsets


def test_every_window_stays_in_sync_within_5_ms(tmp_path: Path) -> None:
    """Clicks at known clip times inside each window (AAC at 44.1 kHz, as fal returns) land within ±5 ms."""
    plan = plan_windows(0.0, 40.0, MMAUDIO)
    marks = [round(w.core_start + 1.5 + k * 2.5, 3) for w in plan.windows for k in range(3)]

    def clicks(t: np.ndarray, _: int) -> np.ndarray:
        wave = np.zeros_like(t)
        for m in marks:
            near = (t >= m) & (t < m + 0.004)
            wave[near] = 0.8 * np.sin(2 * np.pi * 2000 * (t[near] - m))
        return np.stack([wave, wave])

    dest = tmp_path / "bed.wav"
    assemble_soundtrack(windows_of(plan, tmp_path, clicks, ".mp4"), [], 0.0, 40.0, dest)
    found = _onsets(read_wav(dest), 0.2)
    assert len(found) == len(marks)
    errors_ms = [abs(f - m) * 1000 for f, m in zip(found, marks, strict=True)]
    assert max(errors_ms) <= 5.0, errors_ms


def test_cues_sit_at_their_time_and_gain(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    quiet = np.zeros((2, int(20 * FAL_RATE)))
    bed = write_audio(tmp_path / "bed-in.wav", quiet)
    burst = rng.normal(0, 0.2, int(1.5 * FAL_RATE))
    cue_file = write_audio(tmp_path / "cue.mp4", np.stack([burst, burst]))
    loud = CueAudio(cue_file, 7.2, 8.7, gain_db=0.0)
    soft = CueAudio(cue_file, 12.0, 13.5, gain_db=-6.0)
    dest = tmp_path / "out.wav"
    assemble_soundtrack([WindowAudio(bed, 0.0, 20.0)], [loud, soft], 0.0, 20.0, dest)
    out = read_wav(dest)
    onsets = _onsets(out, 0.05)
    assert [round(o, 3) for o in onsets][:1] == pytest.approx([7.2], abs=0.005)
    assert onsets[1] == pytest.approx(12.0, abs=0.005)
    level = lambda a, b: 20 * np.log10(np.sqrt((out[0, int(a * OUT_RATE) : int(b * OUT_RATE)] ** 2).mean()))  # noqa: E731
    assert level(12.1, 13.4) - level(7.3, 8.6) == pytest.approx(-6.0, abs=0.3)
    assert np.abs(out[0, : int(7.19 * OUT_RATE)]).max() < 1e-4  # nothing before the first cue
    assert np.abs(out[0, int(8.71 * OUT_RATE) : int(11.99 * OUT_RATE)]).max() < 1e-4  # nor between the cues


def test_the_seam_report_measures_the_loudness_step(tmp_path: Path) -> None:
    plan = plan_windows(0.0, 40.0, MMAUDIO)
    assert len(plan.seams) >= 2
    rng = np.random.default_rng(11)

    def stepped(t: np.ndarray, index: int) -> np.ndarray:  # the second window is 6 dB quieter than the others
        wave = rng.normal(0, 0.1 * (0.5 if index == 1 else 1.0), t.shape[0])
        return np.stack([wave, wave])

    result = assemble_soundtrack(
        windows_of(plan, tmp_path, stepped), [], 0.0, 40.0, tmp_path / "bed.wav", [s.at for s in plan.seams]
    )
    first, second = result.seams[0], result.seams[1]
    assert first.measure == "short-term"
    assert first.step_db == pytest.approx(-6.0, abs=0.7)
    assert second.step_db == pytest.approx(6.0, abs=0.7)
    for seam in result.seams[2:]:
        assert abs(seam.step_db) < 0.7


def test_a_failed_window_leaves_silence_in_its_place(tmp_path: Path) -> None:
    plan = plan_windows(0.0, 30.0, MMAUDIO)
    rng = np.random.default_rng(5)
    audio = windows_of(plan, tmp_path, lambda t, i: np.stack([rng.normal(0, 0.1, t.shape[0])] * 2))
    failed = plan.windows[1]
    audio[1] = WindowAudio(None, failed.start, failed.end, failed.fade_in, failed.fade_out)
    dest = tmp_path / "bed.wav"
    assemble_soundtrack(audio, [], 0.0, 30.0, dest)
    out = read_wav(dest)
    hole = out[:, int((failed.start + failed.fade_in) * OUT_RATE) : int((failed.end - failed.fade_out) * OUT_RATE)]
    assert np.abs(hole).max() == 0.0
    assert out.shape[1] == 30 * OUT_RATE


def test_scene_cuts_are_found_to_the_frame_and_motion_is_not_a_cut(tmp_path: Path) -> None:
    clip = make_scenes(tmp_path / "scenes.mp4", 10.0, [3.0, 7.5])
    assert detect_scene_cuts(str(clip), 0.0, 10.0) == pytest.approx([3.0, 7.5], abs=1 / 24 + 1e-3)
    assert detect_scene_cuts(str(clip), 4.0, 10.0) == pytest.approx([7.5], abs=1 / 24 + 1e-3)
    still = make_scenes(tmp_path / "one-shot.mp4", 6.0, [])
    assert detect_scene_cuts(str(still), 0.0, 6.0) == []


def test_only_the_keyframe_intervals_holding_a_cut_are_decoded_frame_by_frame(tmp_path: Path) -> None:
    clip = make_scenes(tmp_path / "gop.mp4", 12.0, [3.5, 7.25], fps=24, gop=24, motion=0)
    scan = scan_scene_cuts(str(clip), 0.0, 12.0)
    assert scan.cuts == pytest.approx([3.5, 7.25], abs=1 / 24 + 1e-3)
    # the two 1 s GOPs holding a cut (each with 0.5 s of context either side), the last GOP and the 12 keyframes:
    # about half of the 288 frames
    assert scan.frames_decoded <= 160


def test_keyframes_are_read_from_the_packets(tmp_path: Path) -> None:
    clip = make_scenes(tmp_path / "gop.mp4", 6.0, [], gop=48)
    assert keyframe_times(str(clip), 0.0, 6.0) == pytest.approx([0.0, 2.0, 4.0], abs=1e-3)
    assert keyframe_times(str(clip), 1.0, 6.0) == pytest.approx([2.0, 4.0], abs=1e-3)

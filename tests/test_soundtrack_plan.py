"""Planning a soundtrack of any length: windows, seams, cues, and the errors bad timelines get (pure, no media)."""

from __future__ import annotations

from itertools import pairwise

import pytest
from pydantic import BaseModel, Field

from alice_mcp.adapters.settings import Settings
from alice_mcp.data.errors import InputError
from alice_mcp.data.timeline import Cue, Segment, window_limits
from alice_mcp.media.windows import check_span, plan_windows

MMAUDIO = window_limits("fal-ai/mmaudio-v2")


def _covers(plan, start: float, end: float) -> None:
    """Windows' cores tile [start, end) exactly; each window extends half a fade past each inner seam."""
    cores = [(w.core_start, w.core_end) for w in plan.windows]
    assert cores[0][0] == pytest.approx(start) and cores[-1][1] == pytest.approx(end)
    for (_, b), (a, _) in pairwise(cores):
        assert a == pytest.approx(b)
    for seam, (left, right) in zip(plan.seams, pairwise(plan.windows), strict=True):
        assert left.end == pytest.approx(seam.at + seam.fade / 2, abs=1e-3)
        assert right.start == pytest.approx(seam.at - seam.fade / 2, abs=1e-3)
        assert left.fade_out == right.fade_in == seam.fade


def test_mmaudio_limits_come_from_its_parameter_table() -> None:
    assert (MMAUDIO.min_s, MMAUDIO.max_s) == (1.0, 30.0)
    assert (MMAUDIO.aim_min, MMAUDIO.aim_max, MMAUDIO.target) == (8.0, 15.0, 10.0)
    assert MMAUDIO.overlap_s == 1.0


def test_a_long_plain_clip_gets_windows_of_the_length_the_model_does_best_on() -> None:
    plan = plan_windows(0.0, 600.0, MMAUDIO)
    _covers(plan, 0.0, 600.0)
    for window in plan.windows:
        assert 8.0 <= window.core_end - window.core_start <= 15.0
        assert window.end - window.start <= 30.0
    assert all(seam.kind == "crossfade" and seam.fade == 1.0 for seam in plan.seams)
    # overlap overhead: one second per seam, and the bill is the sum of the windows
    assert plan.overlap_seconds == pytest.approx(len(plan.seams) * 1.0)
    assert plan.billed_seconds == pytest.approx(600.0 + plan.overlap_seconds)


def test_windows_meet_at_scene_cuts_with_a_short_crossfade() -> None:
    cuts = [9.3, 21.7, 33.0]
    plan = plan_windows(0.0, 45.0, MMAUDIO, scene_cuts=cuts)
    _covers(plan, 0.0, 45.0)
    seams = {round(s.at, 3): s for s in plan.seams}
    for cut in cuts:
        assert cut in seams and seams[cut].kind == "scene_cut" and seams[cut].fade == pytest.approx(0.1)


def test_without_cuts_the_next_window_starts_on_a_keyframe() -> None:
    keyframes = [i * 2.4 for i in range(40)]
    plan = plan_windows(0.0, 90.0, MMAUDIO, keyframes=keyframes)
    _covers(plan, 0.0, 90.0)
    for window in plan.windows[1:]:
        assert min(abs(window.start - k) for k in keyframes) < 1e-3


def test_segments_get_their_own_windows_and_never_share_one_outside_a_crossfade() -> None:
    segments = [
        Segment(start=0, end=12, prompt="tavern ambience"),
        Segment(start=12, end=40, prompt="rain outside"),
        Segment(start=40, end=60, prompt="quiet night"),
    ]
    plan = plan_windows(0.0, 75.0, MMAUDIO, segments=segments, cues=[Cue(at=7.2, duration=1.5, prompt="door")])
    _covers(plan, 0.0, 75.0)
    for boundary in (12.0, 40.0, 60.0):
        assert any(seam.at == pytest.approx(boundary) for seam in plan.seams)
    for window in plan.windows:
        expected = 0 if window.core_end <= 12 else 1 if window.core_end <= 40 else 2 if window.core_end <= 60 else None
        assert window.segment == expected
    (cue,) = plan.cues
    assert (cue.start, cue.end, cue.duration) == (7.2, 8.7, 1.5)
    assert plan.billed_seconds == pytest.approx(sum(w.duration for w in plan.windows) + 1.5)


def test_a_segment_boundary_near_a_cut_moves_onto_the_cut() -> None:
    plan = plan_windows(0.0, 25.0, MMAUDIO, segments=[Segment(start=0, end=12, prompt="a")], scene_cuts=[12.3])
    assert [s.at for s in plan.seams] == [12.3] and plan.seams[0].kind == "scene_cut"
    assert "12.3" in plan.notes[0] or "12.30" in plan.notes[0]


def test_another_models_limits_shape_its_windows() -> None:
    class TenSecondModel(BaseModel):
        prompt: str = ""
        duration: float = Field(default=5, ge=2, le=10)

    limits = window_limits("someone/ten-second-model", TenSecondModel)
    assert limits.max_s == 10 and limits.min_s == 2
    plan = plan_windows(0.0, 95.0, limits)
    _covers(plan, 0.0, 95.0)
    assert all(w.end - w.start <= 10.0 for w in plan.windows)
    with pytest.raises(InputError, match=r"cues\[0\]\.duration.*allowed: 2 to 10"):
        plan_windows(0.0, 95.0, limits, cues=[Cue(at=3, duration=1.5, prompt="x")])


def test_regenerate_selects_a_window_by_index_or_time() -> None:
    plan = plan_windows(0.0, 60.0, MMAUDIO)
    assert plan.window_at(1).index == 1
    assert plan.window_at("1").index == 1
    second = plan.windows[2]
    assert plan.window_at(f"{(second.core_start + second.core_end) / 2}s").index == 2
    assert plan.window_at(second.core_start + 0.01).index == 2
    with pytest.raises(InputError, match="allowed: 0 to"):
        plan.window_at(99)
    with pytest.raises(InputError, match="outside the soundtrack"):
        plan.window_at("75s")


@pytest.mark.parametrize(
    ("start", "end_time", "message"),
    [
        (10.0, 10.0, r"`end_time` 10 s must be after `start_time` 10 s"),
        (10.0, 5.0, r"`end_time` 5 s must be after"),
        (0.0, 80.0, r"`end_time` 80 s is beyond the end of the clip \(allowed: above 0 up to 75.00 s\)"),
        (75.0, None, r"`start_time` 75 s is at or past the end"),
    ],
)
def test_impossible_spans_are_refused_naming_the_field_and_range(start, end_time, message) -> None:
    with pytest.raises(InputError, match=message):
        check_span(start, end_time, 75.0, 600.0)


def test_the_cap_on_soundtrack_length_is_a_setting() -> None:
    assert Settings().max_soundtrack_seconds == 600
    assert check_span(0.0, None, 600.0, 600.0) == (0.0, 600.0)
    with pytest.raises(
        InputError, match=r"at most 600 s \(ALICE_MAX_SOUNDTRACK_SECONDS\).*end_time.*at most 610"
    ) as err:
        check_span(10.0, None, 900.0, 600.0)
    assert err.value.code == "too_long"


def test_the_cap_reads_its_environment_variable(monkeypatch) -> None:
    monkeypatch.setenv("ALICE_MAX_SOUNDTRACK_SECONDS", "120")
    assert Settings().max_soundtrack_seconds == 120


@pytest.mark.parametrize(
    ("segments", "cues", "message"),
    [
        (
            [Segment(start=0, end=20), Segment(start=15, end=30)],
            [],
            r"`segments\[0\]` \(0-20 s\) and `segments\[1\]` \(15-30 s\) overlap",
        ),
        (
            [Segment(start=70, end=80)],
            [],
            r"`segments\[0\]` \(70-80 s\) is outside the soundtrack \(allowed: 0 to 75 s\)",
        ),
        ([Segment(start=5, end=5.5)], [], r"`segments\[0\]` is 0.50 s long \(allowed: at least 1 s"),
        ([Segment(start=9, end=5)], [], r"`segments\[0\]\.end` 5 s must be after its start 9 s"),
        (
            [],
            [Cue(at=76, duration=2, prompt="x")],
            r"`cues\[0\]\.at` 76 s is outside the soundtrack \(allowed: 0 to below 75 s\)",
        ),
        ([], [Cue(at=3, duration=0.4, prompt="x")], r"`cues\[0\]\.duration` 0.4 s \(allowed: 1 to 30 s"),
        ([], [Cue(at=74.5, duration=2, prompt="x")], r"`cues\[0\]` \(74.5 s \+ 2 s\) runs past the soundtrack's end"),
        ([Segment(start=i, end=i + 1) for i in range(51)], [], r"`segments`: 51 given \(allowed: at most 50\)"),
        ([], [Cue(at=1, duration=1, prompt="x")] * 51, r"`cues`: 51 given \(allowed: at most 50\)"),
    ],
)
def test_bad_timelines_are_refused_naming_the_field_and_range(segments, cues, message) -> None:
    with pytest.raises(InputError, match=message):
        plan_windows(0.0, 75.0, MMAUDIO, segments=segments, cues=cues)


def test_a_short_gap_between_segments_joins_its_neighbour() -> None:
    plan = plan_windows(
        0.0, 24.0, MMAUDIO, segments=[Segment(start=0, end=12, prompt="a"), Segment(start=12.4, end=24, prompt="b")]
    )
    _covers(plan, 0.0, 24.0)
    assert [s.at for s in plan.seams] == [12.4]
    assert [w.segment for w in plan.windows] == [0, 1]

"""A whole video's soundtrack end to end against the fal twin: one job of many parts over the MCP wire, the CLI and
the Python API; paid once, resumed after SIGKILL without paying again, one window regenerated alone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import anyio
import numpy as np
import pytest
from mcp import Client

from alice_mcp.adapters.ledger import Ledger
from alice_mcp.media.soundtrack import decode_audio
from tests.conftest import ALICE_BIN, files_in, stdio_params
from tests.media import describe
from tests.soundtrack_media import make_scenes

SEGMENTS = [
    {"start": 0, "end": 12, "prompt": "tavern ambience"},
    {"start": 12, "end": 40, "prompt": "rain outside"},
    {"start": 40, "end": 60, "prompt": "quiet night"},
]
CUES = [{"at": 7.2, "duration": 1.5, "prompt": "door slam"}, {"at": 50, "duration": 2, "prompt": "owl", "gain_db": -3}]
CUTS = [20.0, 47.5]


@pytest.fixture
def long_clip(home: Path) -> Path:
    folder = home / "clips"
    folder.mkdir(exist_ok=True)
    return make_scenes(folder / "long.mp4", 75.0, CUTS, size=(64, 36), fps=12, gop=24)


def _ledger(env: dict[str, str]) -> Ledger:
    return Ledger(Path(env["ALICE_DATA_DIR"]) / "ledger.sqlite3")


def _check_soundtrack(data: dict, twin, ledger: Ledger, output_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """One output video covering all 75 s; one submit per part; the ledger's cost equals the quote; sync per window."""
    assert data["status"] == "completed", data
    out = Path(data["output_path"])
    assert files_in(output_dir) == [out.name]
    info = describe(out)
    assert info.video is not None and info.audio_duration == pytest.approx(75.0, abs=0.05)
    report = data["soundtrack"]
    windows, cues = report["windows"], report["cues"]
    assert windows[0]["start"] == 0 and windows[-1]["end"] == 75.0
    assert len(cues) == 2 and report["parts_done"] == report["parts_total"] == len(windows) + 2
    assert all(part["status"] == "done" for part in windows + cues)
    # exactly one submit per part, and each part's payload asks for that part's span
    assert twin.state.submit_count() == len(windows) + 2
    durations = sorted(round(s.payload["duration"], 3) for s in twin.state.submits)
    assert durations == sorted(round(p["end"] - p["start"], 3) for p in windows + cues)
    prompts = {s.payload["prompt"] for s in twin.state.submits}
    assert {"tavern ambience", "rain outside", "quiet night", "door slam", "owl"} <= prompts
    # paid once: the parent's cost is the quote, and is what the parts cost and what the twin billed
    parent = ledger.get(data["job_id"])
    parts = ledger.parts_of(data["job_id"])
    assert len(parts) == len(windows) + 2 and all(p.status == "completed" for p in parts)
    assert data["cost_usd"] == pytest.approx(parent.cost_usd) == pytest.approx(sum(p.cost_usd for p in parts))
    assert twin.state.billed_usd() == pytest.approx(parent.cost_usd)
    # the seams were measured, and scene cuts got the short crossfade
    assert len(report["seams"]) == len(windows) - 1 and all(s["step_db"] is not None for s in report["seams"])
    assert {s["at"] for s in report["seams"] if s["kind"] == "scene_cut"} >= {20.0}
    _check_sync(out, parts, windows)


def _check_sync(out: Path, parts, windows: list[dict]) -> None:  # type: ignore[no-untyped-def]
    """Each window's own audio (fal's part file) sits in the result where it belongs, within ±5 ms."""
    result = decode_audio(out)[0]
    rate = 48000
    by_key = {p.details["part"]: p for p in parts}
    for window in windows:
        own = decode_audio(Path(by_key[f"w{window['index']}"].output_path))[0]
        start = window["start"]
        # a stretch well inside the window's core, away from its crossfades and any cue
        lo = start + 1.2
        length = min(2.0, window["end"] - lo - 1.2)
        if length < 0.5 or any(c[0] - 0.1 < lo + length and lo < c[1] + 0.1 for c in ((7.2, 8.7), (50, 52))):
            lo, length = window["end"] - 1.2 - 0.6, 0.6
        piece = result[int(lo * rate) : int((lo + length) * rate)]
        best, best_lag = -1.0, 0
        for lag in range(-480, 481, 8):  # ±10 ms in 1/6 ms steps
            a = int((lo - start) * rate) + lag
            ref = own[a : a + piece.shape[0]]
            if ref.shape[0] != piece.shape[0]:
                continue
            score = float(np.dot(ref, piece) / (np.linalg.norm(ref) * np.linalg.norm(piece) + 1e-12))
            if score > best:
                best, best_lag = score, lag
        assert best > 0.9, f"window {window['index']}: no match ({best:.2f})"
        assert abs(best_lag) / rate * 1000 <= 5.0, f"window {window['index']} is {best_lag / rate * 1000:.1f} ms off"


async def _until_done(client: Client, data: dict) -> dict:
    """Follow a running job with get_generation until it ends; its final status."""
    with anyio.fail_after(300):
        while data["status"] not in ("completed", "failed", "cancelled"):
            result = await client.call_tool("get_generation", {"job_id": data["job_id"], "wait_seconds": 50})
            assert result.is_error is False, result.content[0].text
            data = result.structured_content
    return data


async def test_a_75_s_clip_with_segments_and_cues_over_the_mcp_wire(
    connect, long_clip, twin, inprocess_env, output_dir
) -> None:
    async with connect() as client:
        result = await client.call_tool(
            "add_audio_to_video",
            {
                "video": str(long_clip),
                "prompt": "room tone",
                "seed": 7,
                "segments": SEGMENTS,
                "cues": CUES,
                "wait_seconds": 1,
            },
        )
        assert result.is_error is False, result.content[0].text
        first = result.structured_content
        assert first["status"] == "running" and first["job_id"]  # a bounded wait returns the soundtrack's job
        assert first["soundtrack"]["parts_total"] >= 2 + 5
        data = await _until_done(client, first)
    _check_soundtrack(data, twin, _ledger(inprocess_env), output_dir)


async def test_bad_timelines_fail_before_anything_is_uploaded(connect, long_clip, twin) -> None:
    bad = [
        ({"end_time": 5, "start_time": 10}, "`end_time` 5 s must be after `start_time` 10 s"),
        ({"end_time": 90}, "beyond the end of the clip (allowed: above 0 up to 75.00 s)"),
        ({"segments": [{"start": 0, "end": 20}, {"start": 10, "end": 30}]}, "overlap"),
        ({"cues": [{"at": 80, "duration": 1, "prompt": "x"}]}, "`cues[0].at` 80 s is outside the soundtrack"),
        ({"cues": [{"at": 3, "duration": 0.5, "prompt": "x"}]}, "`cues[0].duration` 0.5 s (allowed: 1 to 30 s"),
        ({"duration": 5, "end_time": 20}, "Pass one or the other"),
    ]
    async with connect() as client:
        for extra, message in bad:
            result = await client.call_tool("add_audio_to_video", {"video": str(long_clip), "prompt": "x", **extra})
            assert result.is_error is True and message in result.content[0].text, (extra, result.content[0].text)
    assert twin.state.uploads == [] and twin.state.submit_count() == 0


def test_the_cli_makes_the_same_soundtrack(long_clip, twin, alice_env, output_dir) -> None:
    command = [
        str(ALICE_BIN),
        "add-audio",
        str(long_clip),
        "--prompt",
        "room tone",
        "--seed",
        "7",
        "--segments",
        json.dumps(SEGMENTS),
        "--cues",
        json.dumps(CUES),
        "--json",
        "--yes",
    ]
    done = subprocess.run(command, env=alice_env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    _check_soundtrack(json.loads(done.stdout), twin, _ledger(alice_env), output_dir)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
async def test_sigkill_after_two_parts_resumes_without_paying_again(long_clip, twin, alice_env, output_dir) -> None:
    twin.state.run_seconds = 0.6
    env = {**alice_env, "ALICE_MAX_CONCURRENT_JOBS": "1"}
    ledger = _ledger(env)

    def parts_done() -> int:
        """Parts completed, or 0 while a part is being submitted: a kill then would leave a submit whose outcome is
        unknown (never re-sent, rightly, but then not every part is paid for once, which this test counts)."""
        jobs = [j for j in ledger.recent(50) if j.kind == "soundtrack_part"]
        if any(j.status == "submitting" for j in jobs):
            return 0
        return sum(1 for j in jobs if j.status == "completed")

    try:
        async with Client(stdio_params(env), mode="legacy") as client:
            async with anyio.create_task_group() as tg:

                async def call() -> None:
                    await client.call_tool(
                        "add_audio_to_video",
                        {
                            "video": str(long_clip),
                            "prompt": "room tone",
                            "seed": 3,
                            "segments": SEGMENTS,
                            "cues": CUES,
                            "wait_seconds": 50,
                        },
                    )

                tg.start_soon(call)
                with anyio.fail_after(120):
                    while parts_done() < 2:
                        await anyio.sleep(0.05)
                parent = next(j for j in ledger.recent(50) if j.kind == "soundtrack")
                os.kill(int(parent.owner.split("|")[1]), signal.SIGKILL)  # no cleanup of any kind
                await anyio.sleep(0.3)
                tg.cancel_scope.cancel()
    except Exception:  # noqa: BLE001 - the client sees its server die; that is the point
        pass
    submitted_before = twin.state.submit_count()
    assert 2 <= submitted_before < 7
    sent = {p.details["part"] for p in ledger.parts_of(parent.id) if p.request_id}
    async with Client(stdio_params(env), mode="legacy") as client:
        status = await _until_done(client, {"status": "running", "job_id": parent.id})
    assert status["status"] == "completed", status
    parts = ledger.parts_of(parent.id)
    keys = [p.details["part"] for p in parts if p.request_id]
    assert len(keys) == len(set(keys)), "a part was submitted twice"
    request_ids = [s.request_id for s in twin.state.submits]
    assert len(request_ids) == len(set(request_ids)) == len(set(keys)) == status["soundtrack"]["parts_total"]
    assert describe(Path(status["output_path"])).audio_duration == pytest.approx(75.0, abs=0.05)
    # the resumed run made uploads (in one pass) only for the parts fal had not been sent
    remade = set(ledger.get(parent.id).details.get("upload_pass", {}).get("frames_written", {}))
    assert remade and not remade & sent, (remade, sent)


async def test_the_python_api_makes_the_same_soundtrack(long_clip, twin, inprocess_env, output_dir) -> None:
    from alice_mcp.api import AliceOrchestrator, GenerationRequest

    request = GenerationRequest(
        prompt="room tone", parameters={"seed": 7, "segments": SEGMENTS, "cues": CUES}, reference_assets=[long_clip]
    )
    async with AliceOrchestrator() as alice:
        asset = await alice.generate_creative_asset(request)
    data = asset.details.model_dump(mode="json")
    assert asset.file_path == Path(data["output_path"]) and asset.cost_usd == data["cost_usd"]
    _check_soundtrack(data, twin, _ledger(inprocess_env), output_dir)


async def test_the_whole_soundtrack_is_quoted_and_approved_once(connect, long_clip, twin, monkeypatch) -> None:
    from tests.test_spend_consent import User

    monkeypatch.setenv("ALICE_CONFIRM_SPEND_ABOVE_USD", "0.01")
    user = User(twin)
    async with connect(elicitation_callback=user) as client:
        result = await client.call_tool(
            "add_audio_to_video",
            {"video": str(long_clip), "prompt": "room tone", "segments": SEGMENTS, "cues": CUES, "wait_seconds": 50},
        )
        assert result.is_error is False, result.content[0].text
        data = await _until_done(client, result.structured_content)
    cost = data["cost_usd"]
    assert len(user.questions) == 1 and f"${cost:.4f}" in user.questions[0], user.questions
    assert user.seen_at_question == [(0, 0)]  # asked before anything was uploaded or submitted
    billed = data["soundtrack"]["billed_seconds"]
    assert f"{billed:g} s" in user.questions[0] and billed > 75 + 2 + 1.5  # the overlap and the cues are in it
    assert twin.state.billed_usd() == pytest.approx(cost)


async def test_over_the_per_call_limit_nothing_is_paid(connect, long_clip, twin, monkeypatch) -> None:
    monkeypatch.setenv("ALICE_MAX_COST_PER_CALL_USD", "0.05")  # the 75 s soundtrack costs ~$0.08
    async with connect() as client:
        result = await client.call_tool("add_audio_to_video", {"video": str(long_clip), "prompt": "room tone"})
    assert result.is_error is True and "ALICE_MAX_COST_PER_CALL_USD" in result.content[0].text
    assert twin.state.uploads == [] and twin.state.submit_count() == 0


async def test_regenerate_redoes_one_window_and_pays_for_it_alone(
    connect, home, twin, inprocess_env, output_dir
) -> None:
    folder = home / "clips"
    folder.mkdir(exist_ok=True)
    clip = make_scenes(folder / "forty.mp4", 40.0, [22.0], size=(64, 36), fps=12, gop=24)
    ledger = _ledger(inprocess_env)
    async with connect() as client:
        result = await client.call_tool(
            "add_audio_to_video", {"video": str(clip), "prompt": "wind", "wait_seconds": 50}
        )
        first = await _until_done(client, result.structured_content)
        windows = first["soundtrack"]["windows"]
        assert len(windows) >= 3 and twin.state.submit_count() == len(windows)
        middle = windows[1]
        at = f"{(middle['start'] + middle['end']) / 2:g}s"
        result = await client.call_tool(
            "regenerate_soundtrack_windows", {"job_id": first["job_id"], "regenerate": [at], "wait_seconds": 50}
        )
        assert result.is_error is False, result.content[0].text
        second = await _until_done(client, result.structured_content)
        bad = await client.call_tool("regenerate_soundtrack_windows", {"job_id": first["job_id"], "regenerate": [99]})
        assert bad.is_error is True and "window 99 does not exist (allowed: 0 to" in bad.content[0].text
    assert second["job_id"] != first["job_id"] and second["status"] == "completed"
    # one more submit, for that window alone, and the new job costs just that window
    assert twin.state.submit_count() == len(windows) + 1
    assert twin.state.submits[-1].payload["duration"] == pytest.approx(middle["end"] - middle["start"])
    assert second["cost_usd"] == pytest.approx(middle["cost_usd"])
    assert [p.details["part"] for p in ledger.parts_of(second["job_id"])] == ["w1"]
    # a new file next to the first; both cover the whole clip
    first_path, second_path = Path(first["output_path"]), Path(second["output_path"])
    assert first_path != second_path and sorted(files_in(output_dir)) == sorted([first_path.name, second_path.name])
    assert describe(second_path).audio_duration == pytest.approx(40.0, abs=0.05)
    report = second["soundtrack"]
    assert [w["status"] for w in report["windows"]] == ["done"] * len(windows)
    assert [w["cost_usd"] > 0 for w in report["windows"]] == [i == 1 for i in range(len(windows))]

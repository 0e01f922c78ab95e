"""Finishing never loses a paid result: whatever fails after fal billed, fal's own file is delivered with a note
saying why and what to do (Python API and the CLI's ``job ID --wait``, against the fal twin)."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ALICE_BIN
from tests.media import describe, measured_seconds


async def _run_with(source: Path, on_stage, **parameters):  # type: ignore[no-untyped-def]
    from alice_mcp import AliceOrchestrator, GenerationRequest

    async def progress(event) -> None:  # type: ignore[no-untyped-def]
        on_stage(event.stage)

    async with AliceOrchestrator() as alice:
        return await alice.generate_creative_asset(
            GenerationRequest(prompt="rain", reference_assets=[source], parameters={"seed": 5, **parameters}),
            progress,
        )


async def test_original_damaged_after_billing_delivers_fals_file_with_a_note(
    inprocess_env, alice_env, twin, clip
) -> None:
    source = clip("walk.mp4", seconds=2.0, size=(160, 120), with_audio=True)

    def damage(stage: str) -> None:  # fal has billed once the result is being downloaded
        if stage == "downloading" and source.stat().st_size > 100:
            source.write_bytes(b"not a video any more" * 4)

    result = await _run_with(source, damage)
    out = Path(result.file_path)
    assert out.is_file() and twin.state.submit_count() == 1
    info = describe(out)
    assert info.video_codec == "h264" and info.audio_codec == "aac"  # fal's file: picture and sound
    video_s, audio_s = measured_seconds(out)
    assert video_s == pytest.approx(2.0, abs=0.1) and audio_s == pytest.approx(2.0, abs=0.1)
    note = next(n for n in result.details.notes if "saved fal's version instead" in n)
    assert "run the job again" in note and "nothing was paid twice" in note

    # the CLI delivers the same finished job, exit 0
    done = subprocess.run(
        [str(ALICE_BIN), "job", result.job_id, "--wait", "30", "--json"],
        env=alice_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert str(out) in done.stdout


async def test_an_unexpected_exception_while_finishing_is_logged_as_a_bug_and_still_delivers(
    inprocess_env, twin, clip, monkeypatch, caplog
) -> None:
    import alice_mcp.media.finish as finish

    def crash(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("simulated PyAV crash")

    monkeypatch.setattr(finish, "mux_generated_audio", crash)
    source = clip("walk.mp4", seconds=2.0, size=(160, 120))
    with caplog.at_level(logging.ERROR, logger="alice_mcp.media.pipeline"):
        result = await _run_with(source, lambda stage: None, audio_format="wav")
    assert Path(result.file_path).is_file() and Path(result.details.audio_path).suffix == ".wav"
    assert any("this is a bug" in n and "RuntimeError" in n for n in result.details.notes)
    assert any("bug while assembling" in r.message and r.exc_info for r in caplog.records)


def test_a_bug_exits_1_as_the_readme_says() -> None:
    from alice_mcp.cli.main import EXIT_BUG, exit_code_for
    from alice_mcp.data.errors import AliceError, InputError

    assert exit_code_for(AliceError("Internal error in alice-mcp", code="bug")) == EXIT_BUG == 1
    assert exit_code_for(InputError("bad", code="not_video")) == 3
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert "| 1 | a bug in alice-mcp" in readme

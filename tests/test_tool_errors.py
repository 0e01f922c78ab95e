"""Every failure a user can act on comes back as an isError result with a clear message; nothing is billed that
should not be, and no partial file is left in the output folder."""

from __future__ import annotations

import os

import pytest

from tests.conftest import FAKE_KEY, files_in


async def _call(connect, **args):  # type: ignore[no-untyped-def]
    async with connect() as client:
        return await client.call_tool("add_audio_to_video", args)


def _text(result) -> str:  # type: ignore[no-untyped-def]
    assert result.is_error is True, result.structured_content
    return result.content[0].text


async def test_missing_fal_key_says_how_to_set_it(connect, clip, twin, monkeypatch) -> None:
    monkeypatch.delenv("FAL_KEY")
    text = _text(await _call(connect, video=str(clip()), prompt="x"))
    assert "FAL_KEY" in text and '"env"' in text and "claude_desktop_config.json" in text
    assert twin.state.uploads == [] and twin.state.submit_count() == 0


async def test_file_not_found_names_the_path_and_near_matches(connect, clip, twin) -> None:
    real = clip("tavern_scene.mp4")
    text = _text(await _call(connect, video=str(real.with_name("tavern_scen.mp4")), prompt="x"))
    assert str(real.with_name("tavern_scen.mp4")) in text
    assert "Did you mean" in text and str(real) in text
    assert twin.state.uploads == []


async def test_missing_folder_names_the_nearest_existing_one(connect, home) -> None:
    text = _text(await _call(connect, video=str(home / "nope" / "a.mp4"), prompt="x"))
    assert "does not exist either" in text and str(home) in text


async def test_folder_is_not_a_regular_file(connect, clip) -> None:
    folder = clip("a.mp4").parent
    text = _text(await _call(connect, video=str(folder), prompt="x"))
    assert "is a folder" in text and "a.mp4" in text


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
async def test_fifo_is_refused_without_being_opened(connect, home, twin) -> None:
    fifo = home / "pipe.mp4"
    os.mkfifo(fifo)
    text = _text(await _call(connect, video=str(fifo), prompt="x"))
    assert "not a regular file" in text
    assert twin.state.uploads == []


@pytest.mark.parametrize(
    "video, words",
    [
        ("ftp://example.com/a.mp4", "Unsupported URL scheme 'ftp'"),
        ("data:video/mp4;base64,AAAA", "Unsupported URL scheme 'data'"),
        ("http://example.com/a.mp4", "http:// URLs are not accepted"),
        ("clips/a.mp4", "relative"),
    ],
)
async def test_unusable_video_arguments(connect, twin, video, words) -> None:
    text = _text(await _call(connect, video=video, prompt="x"))
    assert words in text
    assert twin.state.submit_count() == 0


async def test_out_of_range_parameter_names_field_and_range(connect, clip, twin) -> None:
    text = _text(await _call(connect, video=str(clip()), prompt="x", num_steps=51))
    assert "num_steps" in text and "50" in text
    assert twin.state.submit_count() == 0


async def test_prompt_or_preset_is_required(connect, clip, twin) -> None:
    text = _text(await _call(connect, video=str(clip())))
    assert "prompt" in text and "preset" in text
    assert twin.state.uploads == [] and twin.state.submit_count() == 0


async def test_unknown_preset_lists_the_valid_ones(connect, clip) -> None:
    text = _text(await _call(connect, video=str(clip()), preset="disco"))
    assert "disco" in text and "tavern" in text


async def test_output_path_outside_the_folder_is_refused(connect, clip, twin, home) -> None:
    text = _text(await _call(connect, video=str(clip()), prompt="x", output_path=str(home / "evil.mp4")))
    assert "outside the output folder" in text
    assert twin.state.submit_count() == 0


async def test_unwritable_output_folder_fails_before_paying(connect, clip, twin, tmp_path, monkeypatch) -> None:
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    monkeypatch.setenv("ALICE_OUTPUT_DIR", str(blocker / "out"))
    text = _text(await _call(connect, video=str(clip()), prompt="x"))
    assert "not writable" in text and "ALICE_OUTPUT_DIR" in text
    assert twin.state.uploads == [] and twin.state.submit_count() == 0


async def test_fal_401_bad_key(connect, clip, twin) -> None:
    twin.state.valid_keys = {"some-other-key"}
    text = _text(await _call(connect, video=str(clip()), prompt="x"))
    assert "401" in text and "FAL_KEY" in text
    assert FAKE_KEY not in text


async def test_fal_403_forbidden(connect, clip, twin) -> None:
    twin.state.forbidden_keys = {FAKE_KEY}
    text = _text(await _call(connect, video=str(clip()), prompt="x"))
    assert "403" in text
    assert FAKE_KEY not in text


async def test_fal_422_becomes_one_sentence_with_field_and_range(connect, clip, twin) -> None:
    twin.state.schema_overrides = {"duration": {"le": 5}}
    text = _text(await _call(connect, video=str(clip("long.mp4", seconds=8.5, size=(64, 48))), prompt="x", duration=8))
    assert "fal rejected the request (422)" in text
    assert "`duration`" in text and "less than or equal to 5" in text and "got 8" in text
    assert twin.state.submit_count() == 0


async def test_job_completed_with_an_error(connect, clip, twin, output_dir) -> None:
    twin.state.fail_next_jobs(1, error="GPU ran out of memory", error_type="runner_server_error")
    text = _text(await _call(connect, video=str(clip()), prompt="x", duration=1))
    assert "GPU ran out of memory" in text and twin.state.submits[0].request_id in text
    assert files_in(output_dir) == []


async def test_failed_download_names_the_job_and_keeps_the_url(connect, clip, twin, output_dir) -> None:
    twin.state.add_fault("download", 500, times=50)  # outlasts the bounded retries
    text = _text(await _call(connect, video=str(clip()), prompt="x", duration=1))
    request_id = twin.state.submits[0].request_id
    assert request_id in text and "https://" in text and "500" in text
    assert "get_generation" in text and "not paid again" in text
    assert twin.state.submit_count() == 1
    assert files_in(output_dir) == []  # no partial file


async def test_submit_reset_is_never_resent(connect, clip, twin) -> None:
    twin.state.add_fault("submit", "reset", times=1)
    text = _text(await _call(connect, video=str(clip()), prompt="x", duration=1))
    assert "not re-sent" in text
    assert twin.state.submit_count() == 1  # the twin enqueued it once; we did not pay twice


async def test_submit_429_is_retried_once_accepted(connect, clip, twin, output_dir) -> None:
    twin.state.add_fault("submit", 429, times=2)
    async with connect() as client:
        result = await client.call_tool("add_audio_to_video", {"video": str(clip()), "prompt": "x", "duration": 1})
    assert result.is_error is False, result.content[0].text
    assert twin.state.submit_count() == 1
    assert len(files_in(output_dir)) == 1

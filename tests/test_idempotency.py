"""Idempotency keys through the MCP wire against the twin: the same key and arguments return the same job and pay
once, also while the first call runs and after a restart; other arguments or a bad key are clear errors."""

from __future__ import annotations

import anyio
import pytest


def _call(clip, **extra):  # type: ignore[no-untyped-def]
    return {"video": str(clip("steps.mp4")), "prompt": "footsteps", "duration": 1, **extra}


async def test_the_same_key_and_arguments_give_the_same_job_once(connect, clip, twin) -> None:
    twin.state.run_seconds = 1.0
    arguments = _call(clip, idempotency_key="order-42")
    async with connect() as client:
        results = []

        async def call() -> None:
            results.append(await client.call_tool("add_audio_to_video", arguments))

        async with anyio.create_task_group() as group:  # two at once: the second comes while the first runs
            group.start_soon(call)
            group.start_soon(call)
        later = await client.call_tool("add_audio_to_video", {**arguments, "wait_seconds": 5})  # wait is not the job
    for result in [*results, later]:
        assert result.is_error is False, result.content[0].text
    assert len({r.structured_content["job_id"] for r in [*results, later]}) == 1
    assert twin.state.submit_count() == 1 and len(twin.state.uploads) == 1


async def test_a_key_survives_a_restart(connect, clip, twin) -> None:
    twin.state.run_seconds = 2.0
    arguments = _call(clip, idempotency_key="survives-restart")
    async with connect() as client:
        first = await client.call_tool("add_audio_to_video", {**arguments, "wait_seconds": 0})
        with anyio.fail_after(30):
            while twin.state.submit_count() == 0:  # fal has the job (and will bill it) before the server stops
                await anyio.sleep(0.02)
    assert first.structured_content["status"] == "running"
    async with connect() as client:  # a new server on the same ledger
        again = await client.call_tool("add_audio_to_video", arguments)
    assert again.is_error is False, again.content[0].text
    assert again.structured_content["job_id"] == first.structured_content["job_id"]
    assert again.structured_content["status"] == "completed" and twin.state.submit_count() == 1


async def test_the_same_key_with_other_arguments_is_refused(connect, clip, twin) -> None:
    async with connect() as client:
        first = await client.call_tool("generate_audio", {"prompt": "rain", "duration": 1, "idempotency_key": "k-1"})
        other = await client.call_tool("generate_audio", {"prompt": "snow", "duration": 1, "idempotency_key": "k-1"})
    assert first.is_error is False, first.content[0].text
    assert other.is_error is True and "already used for a different request" in other.content[0].text
    assert first.structured_content["job_id"] in other.content[0].text and twin.state.submit_count() == 1


async def test_a_job_that_never_reached_fal_does_not_hold_its_key(connect, clip, twin) -> None:
    arguments = _call(clip, idempotency_key="retry-me")
    async with connect() as client:  # the server stops before the job is submitted: nothing was paid
        stopped = await client.call_tool("add_audio_to_video", {**arguments, "wait_seconds": 0})
    assert twin.state.submit_count() == 0
    async with connect() as client:
        again = await client.call_tool("add_audio_to_video", arguments)
    assert again.is_error is False, again.content[0].text
    assert again.structured_content["job_id"] != stopped.structured_content["job_id"]
    assert twin.state.submit_count() == 1


@pytest.mark.parametrize("key", ["", "has space", "x" * 129, "ключ", "a/b"])
async def test_a_malformed_or_overlong_key_is_refused_before_anything_runs(connect, twin, key) -> None:
    async with connect() as client:
        result = await client.call_tool("generate_video", {"prompt": "a fox", "idempotency_key": key})
    assert result.is_error is True and "idempotency_key" in result.content[0].text
    assert twin.state.submit_count() == 0


async def test_a_long_clip_soundtrack_with_a_key_is_one_job_paid_once(connect, clip, twin) -> None:
    twin.state.run_seconds = 0.5
    arguments = {
        "video": str(clip("long.mp4", seconds=34.0, size=(64, 48))),
        "prompt": "rain",
        "idempotency_key": "soundtrack-7",
    }
    async with connect() as client:
        results = []

        async def call() -> None:
            results.append(await client.call_tool("add_audio_to_video", {**arguments, "wait_seconds": 50}))

        async with anyio.create_task_group() as group:  # the second call comes while the first one's parts run
            group.start_soon(call)
            group.start_soon(call)
    for result in results:
        assert result.is_error is False, result.content[0].text
    first, second = (r.structured_content for r in results)
    assert first["job_id"] == second["job_id"] and first["status"] == second["status"] == "completed"
    windows = first["soundtrack"]["windows"]
    assert len(windows) >= 2, "a 34 s clip is a soundtrack of several windows"
    assert twin.state.submit_count() == len(windows), "each window paid once, not once per call"


async def test_a_key_on_a_takes_path_is_refused_before_anything_is_paid(connect, clip, twin) -> None:
    async with connect() as client:
        takes = await client.call_tool("add_audio_to_video", _call(clip, takes=2, idempotency_key="two-takes"))
        models = await client.call_tool(
            "add_audio_to_video", _call(clip, model=["mmaudio", "hunyuan"], idempotency_key="two-models")
        )
        other = await client.call_tool("add_audio_to_video", _call(clip, model="hunyuan", idempotency_key="other"))
    for result in (takes, models, other):
        assert result.is_error is True and "`idempotency_key` is not kept for" in result.content[0].text
        assert "Drop `idempotency_key`" in result.content[0].text
    assert "2 take(s) of 1 model(s)" in takes.content[0].text and "hunyuan" in other.content[0].text
    assert twin.state.submit_count() == 0 and not twin.state.uploads

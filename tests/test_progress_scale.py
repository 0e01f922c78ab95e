"""Progress is on one scale every run: fal's sampling steps fix the percentage, whatever the job's length.

Through the MCP wire (progress notifications) against the twin, whose running jobs log ``step k/N`` like a sampler;
and the command line's bar, which shows the elapsed time.
"""

from __future__ import annotations

import re

import pytest

from tests.test_cli import run_cli

STEP = re.compile(r"step (\d+)/(\d+)")


async def _progress_of_one_job(connect, clip, seconds: float, twin) -> list[tuple[float, str]]:  # type: ignore[no-untyped-def]
    twin.state.run_seconds = seconds
    seen: list[tuple[float, str]] = []

    async def on_progress(progress, total, message) -> None:  # type: ignore[no-untyped-def]
        seen.append((progress, message or ""))

    async with connect() as client:
        result = await client.call_tool(
            "add_audio_to_video",
            {"video": str(clip(f"clip-{seconds}.mp4")), "prompt": "rain", "duration": 1, "num_steps": 20},
            progress_callback=on_progress,
        )
    assert result.is_error is False, result.content[0].text
    return seen


async def test_sampling_steps_put_a_short_and_a_long_job_on_the_same_scale(connect, clip, twin) -> None:
    short = await _progress_of_one_job(connect, clip, 0.6, twin)
    long = await _progress_of_one_job(connect, clip, 3.0, twin)  # five times longer at fal
    for run in (short, long):
        values = [value for value, _ in run]
        assert values == sorted(values) and values[-1] == 100  # monotonic, to the end
        steps = {m.group(0): value for value, message in run if (m := STEP.search(message))}
        assert steps, run
        for text, value in steps.items():  # generating spans 40-85 %: step k of N sits at 40 + 45 k/N
            k, n = map(int, STEP.search(text).groups())  # type: ignore[union-attr]
            assert value == pytest.approx(40 + 45 * k / n, abs=0.01)
    short_steps = {m.group(0): v for v, msg in short if (m := STEP.search(msg))}
    long_steps = {m.group(0): v for v, msg in long if (m := STEP.search(msg))}
    shared = short_steps.keys() & long_steps.keys()
    assert shared and all(short_steps[s] == long_steps[s] for s in shared)


def test_the_cli_progress_lines_show_the_elapsed_time(alice_env, clip, twin) -> None:
    twin.state.run_seconds = 1.2
    proc = run_cli(alice_env, "add-audio", str(clip()), "--prompt", "rain", "--duration", "1")
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("[")]
    assert lines and all(re.match(r"\[\s*\d+% \d+:\d\d\] ", line) for line in lines), proc.stderr
    clocks = [int(line.split("] ")[0].split(":")[-1]) for line in lines]
    assert clocks == sorted(clocks)

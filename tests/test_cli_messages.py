"""What the command line tells a newcomer while a job runs: the job id as soon as the job exists (so `alice-mcp job
ID --wait` can pick it up if the process dies), and a reused upload called what it is."""

from __future__ import annotations

import json

from tests.test_cli import run_cli


def test_the_job_id_comes_first_and_a_reused_upload_is_not_uploaded_again(alice_env, clip, twin) -> None:
    source = clip("waves.mp4")
    first = run_cli(alice_env, "add-audio", str(source), "--prompt", "waves", "--duration", "1", "--json")
    assert first.returncode == 0, first.stderr
    job_id = json.loads(first.stdout)["job_id"]
    lines = first.stderr.splitlines()
    started = next(i for i, line in enumerate(lines) if f"job {job_id} started" in line)
    assert f"alice-mcp job {job_id} --wait" in lines[started]
    assert started < next(i for i, line in enumerate(lines) if "Queued at fal" in line)  # before fal has it
    assert any("Uploading waves.mp4" in line for line in lines)

    again = run_cli(alice_env, "add-audio", str(source), "--prompt", "waves", "--duration", "1")  # no seed: new job
    assert again.returncode == 0, again.stderr
    assert "Reused the earlier upload of waves.mp4" in again.stderr and "Uploading" not in again.stderr
    assert len(twin.state.uploads) == 1 and twin.state.submit_count() == 2

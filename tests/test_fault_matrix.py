"""Transient faults at every step of a job: {token, upload, submit, status, result, download} × {429, 500, 503,
connection reset, timeout}. Each cell recovers or fails with a clear error naming the job; the twin's submit counter
proves at most one paid job per call; the output folder only ever holds complete files.

Runs through the Python API (``AliceCore.serving()``), with short HTTP timeouts so "timeout" cells stay fast.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from alice_mcp.adapters.ledger import Ledger
from alice_mcp.adapters.settings import Settings
from alice_mcp.data.errors import AliceError
from alice_mcp.engine.core import AliceCore
from alice_mcp.engine.models import VideoAudioRequest
from tests.conftest import files_in

STAGES = ["token", "upload", "submit", "status", "result", "download"]
MODES = [429, 500, 503, "reset", "timeout"]
# A submit that fails after it may have reached fal is never re-sent; a 500 from fal's app is not retried blindly.
FAILS = {("submit", 500): "HTTP 500", ("submit", "reset"): "not re-sent", ("submit", "timeout"): "not re-sent"}
HANG_S = 1.5


@pytest.fixture
def fast_env(inprocess_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("ALICE_HTTP_TIMEOUT_S", "1.0")
    return inprocess_env


async def _run(video: Path, **values: object) -> tuple[object, AliceError | None, AliceCore]:
    core = AliceCore(Settings())
    result, error = None, None
    async with core.serving():
        try:
            request = VideoAudioRequest(video=str(video), values={"prompt": "rain", "duration": 1, **values})
            result = await core.add_audio_to_video(request, wait_seconds=40)
        except AliceError as exc:
            error = exc
    await core.aclose()
    return result, error, core


@pytest.mark.parametrize("mode", MODES, ids=str)
@pytest.mark.parametrize("stage", STAGES)
async def test_fault_cell(stage: str, mode: object, fast_env, clip, twin, output_dir) -> None:
    twin.state.add_fault(stage, mode, times=2, hang_seconds=HANG_S)
    result, error, _ = await _run(clip())
    assert twin.state.submit_count() <= 1
    if (stage, mode) in FAILS:
        assert error is not None, f"{stage}×{mode} should fail clearly"
        assert FAILS[(stage, mode)] in error.message and "job_" in error.message
        assert files_in(output_dir) == []
        return
    assert error is None, f"{stage}×{mode}: {error and error.message}"
    assert result.status == "completed" and Path(result.output_path).exists()
    assert twin.state.submit_count() == 1
    assert files_in(output_dir) == [Path(result.output_path).name]


@pytest.mark.parametrize(
    "stage, left_as", [("status", "running"), ("result", "completed_at_fal"), ("download", "completed_at_fal")]
)
async def test_a_persistent_fault_fails_clearly_and_the_job_is_kept(
    stage, left_as, fast_env, clip, twin, output_dir
) -> None:
    twin.state.add_fault(stage, 503, times=1000)
    _, error, core = await _run(clip())
    assert error is not None and "job_" in error.message and "get_generation" in error.message
    job = Ledger(Settings().ledger_path()).recent(1)[0]
    assert job.id in error.message and job.status == left_as
    assert files_in(output_dir) == []
    twin.state.clear_faults()
    core = AliceCore(Settings())
    async with core.serving():
        status = await core.get_generation(job.id, 20)
    await core.aclose()
    assert status.status == "completed" and Path(status.output_path).exists()
    assert twin.state.submit_count() == 1
    assert files_in(output_dir) == [Path(status.output_path).name]

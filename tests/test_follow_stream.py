"""Following a fal job: fal's status stream (SSE) is used when it works — one request, no polling delay — and polling
takes over when the stream fails or breaks, with the same outcome."""

from __future__ import annotations

from pathlib import Path

import pytest


def _status_requests(twin) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(stream requests, polling requests) the twin saw."""
    paths = [r.path.split("?")[0] for r in twin.state.requests if r.method == "GET"]
    return sum(p.endswith("/status/stream") for p in paths), sum(p.endswith("/status") for p in paths)


async def _run(connect, clip) -> dict:  # type: ignore[no-untyped-def]
    async with connect() as client:
        result = await client.call_tool("add_audio_to_video", {"video": str(clip()), "prompt": "rain", "duration": 1})
    assert result.is_error is False, result.content[0].text
    return result.structured_content


async def test_the_status_stream_replaces_polling(connect, clip, twin) -> None:
    twin.state.run_seconds = 1.0
    data = await _run(connect, clip)
    assert Path(data["output_path"]).exists()
    streams, polls = _status_requests(twin)
    assert streams == 1 and polls == 0


@pytest.mark.parametrize("mode", [500, "reset"])
async def test_a_failing_stream_falls_back_to_polling(connect, clip, twin, mode) -> None:
    twin.state.add_fault("stream", mode, times=1)
    data = await _run(connect, clip)
    assert Path(data["output_path"]).exists()
    streams, polls = _status_requests(twin)
    assert streams == 1 and polls >= 1
    assert twin.state.submit_count() == 1

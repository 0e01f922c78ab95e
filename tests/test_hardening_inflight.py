"""Issue 12, finding 12: an identical deterministic request sent while the first is running joins it, never pays twice.

Against the twin: the same request with the same explicit seed, sent twice at once (to one server, and to two real
stdio server processes sharing one ledger), makes one fal submit; both calls get the same saved file. ``force``
still pays again.
"""

from __future__ import annotations

import anyio
import pytest
from mcp import Client

from tests.conftest import stdio_params


@pytest.fixture
def legacy(inprocess_env: dict[str, str]):  # type: ignore[no-untyped-def]
    from alice_mcp.mcp.server import build_server

    return lambda: Client(build_server(), mode="legacy")


ARGS = {"prompt": "rain", "duration": 1, "seed": 11, "wait_seconds": 30}


async def _twice(clients, video: str, **extra):  # type: ignore[no-untyped-def]
    results: list = []

    async def call(client) -> None:  # type: ignore[no-untyped-def]
        results.append(await client.call_tool("add_audio_to_video", {"video": video, **ARGS, **extra}))

    async with anyio.create_task_group() as tg:
        for client in clients:
            tg.start_soon(call, client)
    return results


async def test_the_same_request_twice_at_once_in_one_server_pays_once(legacy, clip, twin) -> None:
    twin.state.run_seconds = 1.5
    source = clip()
    async with legacy() as client:
        results = await _twice([client, client], str(source))
    assert all(r.is_error is False for r in results), [r.content[0].text for r in results]
    assert twin.state.submit_count() == 1
    assert len({r.structured_content["output_path"] for r in results}) == 1


async def test_force_still_pays_again(legacy, clip, twin) -> None:
    twin.state.run_seconds = 1.0
    source = clip()
    async with legacy() as client:
        results = await _twice([client, client], str(source), force=True)
    assert all(r.is_error is False for r in results)
    assert twin.state.submit_count() == 2


async def test_the_same_request_in_two_processes_on_one_ledger_pays_once(alice_env, clip, twin) -> None:
    twin.state.run_seconds = 2.0
    source = clip()
    async with (
        Client(stdio_params(alice_env), mode="legacy") as one,
        Client(stdio_params(alice_env), mode="legacy") as two,
    ):
        results = await _twice([one, two], str(source))
    assert all(r.is_error is False for r in results), [r.content[0].text for r in results]
    assert twin.state.submit_count() == 1
    assert len({r.structured_content["output_path"] for r in results}) == 1

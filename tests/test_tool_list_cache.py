"""A server answers tools/list from the list stored for its build, builds its tools on the first call, and never
serves a list stored for other code (alice_mcp/mcp/tool_list_cache.py)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from mcp import Client

from alice_mcp.mcp import tool_list_cache
from tests.conftest import stdio_params


def _published(tools) -> list[dict]:  # type: ignore[no-untyped-def]
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]


async def test_a_second_start_publishes_the_same_tools_and_runs_them(alice_env, tmp_path) -> None:
    env = {**alice_env, "ALICE_CACHE_DIR": str(tmp_path / "cache")}
    async with Client(stdio_params(env), mode="legacy") as client:
        built = _published((await client.list_tools()).tools)
    stored = list((tmp_path / "cache").glob("tools-*.json"))
    assert len(stored) == 1, "the first start stores what it published"
    async with Client(stdio_params(env), mode="legacy") as client:
        served = _published((await client.list_tools()).tools)
        estimate = await client.call_tool("estimate_cost", {"duration": 8})
        refused = await client.call_tool("estimate_cost", {"duration": 8, "num_step": 5})
        bad = await client.call_tool("add_audio_to_video", {"video": "x.mp4", "num_steps": 99})
    assert served == built
    assert estimate.is_error is False and estimate.structured_content["usd"] == pytest.approx(0.008)
    # the tools were built on the first call: unknown and out-of-range arguments get the plain-words answers
    assert refused.is_error and "num_step" in refused.content[0].text
    assert bad.is_error and "num_steps" in bad.content[0].text and "50" in bad.content[0].text


@pytest.mark.parametrize("damage", ["not json", "another build", "not a tool list"])
async def test_a_damaged_or_foreign_list_is_ignored_and_replaced(damage, inprocess_env, tmp_path, monkeypatch) -> None:
    from alice_mcp.mcp.server import build_server

    monkeypatch.setenv("ALICE_CACHE_DIR", str(tmp_path / "cache"))
    async with Client(build_server(), mode="legacy") as client:
        built = _published((await client.list_tools()).tools)
    (stored,) = (tmp_path / "cache").glob("tools-*.json")
    good = json.loads(stored.read_text())
    fake = {"name": "pay_everything", "inputSchema": {"type": "object"}}
    stored.write_text(
        {
            "not json": '{"key": ',
            "another build": json.dumps({"key": "0" * 32, "tools": [fake]}),
            "not a tool list": json.dumps({"key": good["key"], "tools": [{"name": 3}]}),
        }[damage]
    )
    async with Client(build_server(), mode="legacy") as client:
        served = _published((await client.list_tools()).tools)
    assert served == built
    assert json.loads(stored.read_text()) == good, "the damaged file is replaced by the right list"


async def test_an_unwritable_cache_folder_only_means_building_every_time(inprocess_env, tmp_path, monkeypatch) -> None:
    from alice_mcp.mcp.server import build_server

    blocker = tmp_path / "a file"
    blocker.write_text("")
    monkeypatch.setenv("ALICE_CACHE_DIR", str(blocker / "cache"))  # a folder inside a file cannot exist
    for _ in range(2):
        async with Client(build_server(), mode="legacy") as client:
            names = {t.name for t in (await client.list_tools()).tools}
            result = await client.call_tool("list_audio_presets", {})
        assert "add_audio_to_video" in names and result.is_error is False


def test_the_key_changes_with_any_file_of_the_package_and_not_with_compiled_files(tmp_path) -> None:
    root = tmp_path / "pkg"
    shutil.copytree(Path(tool_list_cache.__file__).parent, root, ignore=shutil.ignore_patterns("__pycache__"))
    before = tool_list_cache.fingerprint.__wrapped__(root)
    (root / "__pycache__").mkdir(exist_ok=True)
    (root / "__pycache__" / "x.pyc").write_bytes(b"compiled")
    assert tool_list_cache.fingerprint.__wrapped__(root) == before
    server = root / "server.py"
    server.write_text(server.read_text().replace("estimate_cost", "estimate_costs", 1))
    edited = tool_list_cache.fingerprint.__wrapped__(root)
    assert edited != before
    stat = server.stat()
    os.utime(server, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # same size, written again
    assert tool_list_cache.fingerprint.__wrapped__(root) not in (before, edited)

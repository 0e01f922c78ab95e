"""Operator spend limits fail closed before anything is uploaded or submitted, name the limit and the amount, and no
tool argument can raise them. Every paid result carries its cost, also in ``_meta.cost``."""

from __future__ import annotations

import json

import pytest

from alice_mcp.config import load_settings
from alice_mcp.core import AliceCore
from alice_mcp.endpoints import MMAUDIO_TEXT
from alice_mcp.errors import AliceError
from tests.conftest import files_in
from tests.test_stdout_purity import _messages, _run


async def _call(connect, tool: str, **args):  # type: ignore[no-untyped-def]
    async with connect() as client:
        return await client.call_tool(tool, args)


async def test_per_call_cap_refuses_before_upload_and_names_the_limit(connect, clip, twin, monkeypatch) -> None:
    monkeypatch.setenv("ALICE_MAX_COST_PER_CALL_USD", "0.0015")
    result = await _call(connect, "add_audio_to_video", video=str(clip(seconds=2.0)), prompt="x")  # billed: 2 s
    assert result.is_error is True
    text = result.content[0].text
    assert "ALICE_MAX_COST_PER_CALL_USD" in text and "$0.0020" in text and "$0.0015" in text
    assert twin.state.uploads == [] and twin.state.submit_count() == 0


async def test_a_job_within_the_cap_runs(connect, clip, twin, monkeypatch, output_dir) -> None:
    monkeypatch.setenv("ALICE_MAX_COST_PER_CALL_USD", "0.005")
    result = await _call(connect, "add_audio_to_video", video=str(clip()), prompt="x", duration=5)
    assert result.is_error is False, result.content[0].text
    assert twin.state.submit_count() == 1 and len(files_in(output_dir)) == 1


async def test_the_cap_follows_the_operators_price_override(connect, twin, monkeypatch) -> None:
    monkeypatch.setenv("ALICE_MAX_COST_PER_CALL_USD", "0.05")
    monkeypatch.setenv("ALICE_PRICE_OVERRIDES", json.dumps({MMAUDIO_TEXT.id: 0.01}))
    result = await _call(connect, "generate_audio", prompt="rain", duration=6)
    assert result.is_error is True and "$0.0600" in result.content[0].text
    assert twin.state.submit_count() == 0


@pytest.mark.parametrize(
    "extra",
    [{"max_cost_per_call_usd": 100}, {"ALICE_MAX_COST_PER_CALL_USD": "off"}, {"budget": 1e9, "force": True}],
)
async def test_no_tool_argument_raises_a_limit(connect, clip, twin, monkeypatch, extra) -> None:
    monkeypatch.setenv("ALICE_MAX_COST_PER_CALL_USD", "0.001")
    result = await _call(connect, "add_audio_to_video", video=str(clip()), prompt="x", duration=2, **extra)
    assert result.is_error is True and "ALICE_MAX_COST_PER_CALL_USD" in result.content[0].text
    assert twin.state.submit_count() == 0


async def test_off_switches_the_cap_off(connect, twin, monkeypatch) -> None:
    monkeypatch.setenv("ALICE_MAX_COST_PER_CALL_USD", "off")
    monkeypatch.setenv("ALICE_PRICE_OVERRIDES", json.dumps({MMAUDIO_TEXT.id: 1.0}))
    monkeypatch.setenv("ALICE_CONFIRM_SPEND_ABOVE_USD", "off")
    monkeypatch.setenv("ALICE_DAILY_BUDGET_USD", "off")
    result = await _call(connect, "generate_audio", prompt="rain", duration=2)
    assert result.is_error is False, result.content[0].text
    assert result.structured_content["cost_usd"] == 2.0


async def test_the_generic_run_path_checks_every_submit(inprocess_env, twin, monkeypatch, output_dir) -> None:
    """``run_job`` (what every face and endpoint uses) estimates and checks before it submits."""
    monkeypatch.setenv("ALICE_MAX_COST_PER_CALL_USD", "0.002")
    core = AliceCore(load_settings())
    try:
        with pytest.raises(AliceError) as refused:
            await core.run_job(MMAUDIO_TEXT, {"prompt": "x", "duration": 3}, output_dir / "x.flac", None)
        with pytest.raises(AliceError):  # no duration: priced on the table default (8 s), the upper bound
            await core.run_job(MMAUDIO_TEXT, {"prompt": "x"}, output_dir / "x.flac", None)
    finally:
        await core.aclose()
    assert refused.value.code == "spend_limit" and "$0.0030" in refused.value.message
    assert twin.state.submit_count() == 0


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "lots"])
def test_malformed_limits_stop_the_server_from_guessing(monkeypatch, value) -> None:
    from alice_mcp.errors import ConfigError

    monkeypatch.setenv("ALICE_DAILY_BUDGET_USD", value)
    with pytest.raises(ConfigError) as bad:
        load_settings()
    assert "ALICE_DAILY_BUDGET_USD" in bad.value.message


async def test_paid_results_carry_their_cost_in_structured_content_and_meta(connect, clip, twin) -> None:
    async with connect() as client:
        video = await client.call_tool("add_audio_to_video", {"video": str(clip()), "prompt": "x", "duration": 2})
        audio = await client.call_tool("generate_audio", {"prompt": "x", "duration": 3})
    for result, usd, model in ((video, 0.002, "fal-ai/mmaudio-v2"), (audio, 0.003, MMAUDIO_TEXT.id)):
        assert result.is_error is False, result.content[0].text
        assert result.structured_content["cost_usd"] == usd
        cost = result.meta["cost"]
        assert cost["usd"] == usd and cost["provider"] == "fal" and cost["model"] == model


def test_cost_meta_is_on_the_wire_as_underscore_meta(alice_env, clip, twin) -> None:
    env = {**alice_env, "PATH": "/usr/bin:/bin"}
    stdout, stderr = _run(env, _messages(
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "generate_audio", "arguments": {"prompt": "x", "duration": 2}}},
    ), {1, 2})
    answer = next(json.loads(line) for line in stdout if line.strip() and json.loads(line).get("id") == 2)
    assert answer["result"]["isError"] is False, answer
    assert answer["result"]["_meta"]["cost"] == {"usd": 0.002, "provider": "fal", "model": MMAUDIO_TEXT.id} | (
        {"today_usd": answer["result"]["_meta"]["cost"]["today_usd"]} if "today_usd" in answer["result"]["_meta"]["cost"] else {}
    )
    assert "meta" not in answer["result"]


async def test_estimates_say_what_the_limits_mean(connect, twin, monkeypatch) -> None:
    monkeypatch.setenv("ALICE_MAX_COST_PER_CALL_USD", "0.02")
    monkeypatch.setenv("ALICE_CONFIRM_SPEND_ABOVE_USD", "0.01")
    async with connect() as client:
        over = await client.call_tool("estimate_cost", {"duration": 25})
        ask = await client.call_tool("estimate_cost", {"duration": 15})
        fine = await client.call_tool("estimate_cost", {"duration": 5})
    assert any("ALICE_MAX_COST_PER_CALL_USD" in n for n in over.structured_content["notes"])
    assert any("asked to approve" in n for n in ask.structured_content["notes"])
    assert not any("ALICE_" in n for n in fine.structured_content["notes"])
    assert twin.state.submit_count() == 0

"""Operator spend limits fail closed before anything is uploaded or submitted, name the limit and the amount, and no
tool argument can raise them. Every paid result carries its cost, also in ``_meta.cost``."""

from __future__ import annotations

import json

import pytest

from alice_mcp.adapters.settings import load_settings
from alice_mcp.data.errors import AliceError
from alice_mcp.engine.core import AliceCore
from alice_mcp.engine.models import AudioRequest
from alice_mcp.engine.recipes.registry import MMAUDIO_TEXT
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
    assert "ALICE_MAX_COST_PER_CALL_USD" in text and "$0.002" in text and "$0.0015" in text
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
    assert result.is_error is True and "$0.06" in result.content[0].text
    assert twin.state.submit_count() == 0


@pytest.mark.parametrize(
    "extra",
    [{"max_cost_per_call_usd": 100}, {"ALICE_MAX_COST_PER_CALL_USD": "off"}, {"budget": 1e9, "force": True}],
)
async def test_no_tool_argument_raises_a_limit(connect, clip, twin, monkeypatch, extra) -> None:
    monkeypatch.setenv("ALICE_MAX_COST_PER_CALL_USD", "0.001")
    result = await _call(connect, "add_audio_to_video", video=str(clip()), prompt="x", duration=2, **extra)
    text = result.content[0].text
    # the operator's cap holds; an argument the tool does not take is refused by name before anything runs
    assert result.is_error is True
    refused_by_name = any(f"`{name}`" in text for name in extra) and (
        "not an argument" in text or "not arguments" in text
    )
    assert "ALICE_MAX_COST_PER_CALL_USD" in text or refused_by_name
    assert twin.state.submit_count() == 0


async def test_off_switches_the_cap_off(connect, twin, monkeypatch) -> None:
    monkeypatch.setenv("ALICE_MAX_COST_PER_CALL_USD", "off")
    monkeypatch.setenv("ALICE_PRICE_OVERRIDES", json.dumps({MMAUDIO_TEXT.id: 1.0}))
    monkeypatch.setenv("ALICE_CONFIRM_SPEND_ABOVE_USD", "off")
    monkeypatch.setenv("ALICE_DAILY_BUDGET_USD", "off")
    result = await _call(connect, "generate_audio", prompt="rain", duration=2)
    assert result.is_error is False, result.content[0].text
    assert result.structured_content["cost_usd"] == 2.0


async def test_the_core_checks_every_submit(inprocess_env, twin, monkeypatch, output_dir) -> None:
    """The core's run path (what every face and recipe uses) estimates and checks before it submits."""
    monkeypatch.setenv("ALICE_MAX_COST_PER_CALL_USD", "0.002")
    core = AliceCore(load_settings())
    try:
        with pytest.raises(AliceError) as refused:
            await core.generate_audio(AudioRequest(values={"prompt": "x", "duration": 3}, output_path="x.flac"))
        with pytest.raises(AliceError):  # no duration: priced on the table default (8 s), the upper bound
            await core.generate_audio(AudioRequest(values={"prompt": "x"}, output_path="x.flac"))
    finally:
        await core.aclose()
    assert refused.value.code == "spend_limit" and "$0.003" in refused.value.message
    assert twin.state.submit_count() == 0


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "lots"])
def test_malformed_limits_stop_the_server_from_guessing(monkeypatch, value) -> None:
    from alice_mcp.data.errors import ConfigError

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
    stdout, stderr = _run(
        env,
        _messages(
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": "generate_audio", "arguments": {"prompt": "x", "duration": 2}},
            },
        ),
        {1, 2},
    )
    answer = next(json.loads(line) for line in stdout if line.strip() and json.loads(line).get("id") == 2)
    assert answer["result"]["isError"] is False, answer
    assert answer["result"]["_meta"]["cost"] == {"usd": 0.002, "provider": "fal", "model": MMAUDIO_TEXT.id} | (
        {"today_usd": answer["result"]["_meta"]["cost"]["today_usd"]}
        if "today_usd" in answer["result"]["_meta"]["cost"]
        else {}
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
    assert not any("refused" in n or "approve" in n for n in fine.structured_content["notes"])
    assert (
        "Spent today: $0.00 of the $25.00 daily budget (ALICE_DAILY_BUDGET_USD); $25.00 left."
        in fine.structured_content["notes"]
    )
    assert twin.state.submit_count() == 0


# ------------------------------------------------------------------------------------------------ daily budget
async def _audio(client, duration: float = 2):  # type: ignore[no-untyped-def]
    return await client.call_tool("generate_audio", {"prompt": "rain", "duration": duration})


async def test_daily_budget_counts_todays_recorded_spend(connect, twin, monkeypatch) -> None:
    monkeypatch.setenv("ALICE_DAILY_BUDGET_USD", "0.005")
    async with connect() as client:
        first, second, third = await _audio(client), await _audio(client), await _audio(client)
    assert first.is_error is False and second.is_error is False, second.content[0].text
    assert (
        first.structured_content["spent_today_usd"] == 0.002 and second.structured_content["spent_today_usd"] == 0.004
    )
    assert second.meta["cost"]["today_usd"] == 0.004
    assert third.is_error is True
    text = third.content[0].text
    assert "ALICE_DAILY_BUDGET_USD" in text and "$0.004" in text and "$0.005" in text and "$0.001 left" in text
    assert twin.state.submit_count() == 2


async def test_yesterdays_spend_does_not_count(connect, twin, monkeypatch, inprocess_env) -> None:
    from alice_mcp.adapters.ledger import Ledger
    from alice_mcp.engine.spend import start_of_today

    ledger = Ledger(load_settings().ledger_path())
    old = ledger.create_job(
        kind="generate_audio",
        endpoint=MMAUDIO_TEXT.id,
        request={},
        settings={},
        wanted_path="/x",
        cost_usd=100.0,
        input_fingerprint=None,
        cache_key=None,
        owner=None,
    )
    ledger.update(old.id, submitted_at=start_of_today() - 60)  # one minute before midnight
    ledger.close()
    monkeypatch.setenv("ALICE_DAILY_BUDGET_USD", "1")
    async with connect() as client:
        result = await _audio(client)
    assert result.is_error is False, result.content[0].text
    assert result.structured_content["spent_today_usd"] == 0.002


async def test_concurrent_calls_cannot_overrun_the_budget_together(connect, twin, monkeypatch) -> None:
    import anyio

    monkeypatch.setenv("ALICE_DAILY_BUDGET_USD", "0.005")  # room for two $0.002 jobs, not three
    results: list = []
    async with connect() as client:
        async with anyio.create_task_group() as tg:
            for _ in range(5):

                async def one() -> None:
                    results.append(await _audio(client))

                tg.start_soon(one)
    ok = [r for r in results if not r.is_error]
    refused = [r for r in results if r.is_error]
    assert len(ok) == 2 and len(refused) == 3 and twin.state.submit_count() == 2
    assert all("ALICE_DAILY_BUDGET_USD" in r.content[0].text for r in refused)


def test_the_budget_survives_a_restart(alice_env, twin) -> None:
    """The spend lives in the ledger: a new server process (same data folder) still counts it."""
    env = {**alice_env, "PATH": "/usr/bin:/bin", "ALICE_DAILY_BUDGET_USD": "0.003"}
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "generate_audio", "arguments": {"prompt": "x", "duration": 2}},
    }
    answers = []
    for _ in range(2):
        stdout, stderr = _run(env, _messages(call), {1, 2})
        answers.append(next(json.loads(line) for line in stdout if line.strip() and json.loads(line).get("id") == 2))
    assert answers[0]["result"]["isError"] is False, answers[0]
    assert (
        answers[1]["result"]["isError"] is True
        and "ALICE_DAILY_BUDGET_USD" in answers[1]["result"]["content"][0]["text"]
    )
    assert twin.state.submit_count() == 1

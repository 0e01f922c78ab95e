"""Above ALICE_CONFIRM_SPEND_ABOVE_USD the user is asked (MCP elicitation) BEFORE anything is uploaded or submitted.

Accept runs the job; decline and cancel submit nothing; a client that cannot ask gets the quote to approve in a
second call (nothing runs before); no tool argument stands in for the user's answer. Both protocol eras, in memory and stdio.
"""

from __future__ import annotations

import pytest
from mcp import Client
from mcp.types import ElicitResult

from tests.conftest import files_in, stdio_params


@pytest.fixture(autouse=True)
def _ask_above_a_tenth_of_a_cent(monkeypatch: pytest.MonkeyPatch, inprocess_env) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ALICE_CONFIRM_SPEND_ABOVE_USD", "0.001")  # a 2 s job ($0.002) needs approval


class User:
    """An elicitation callback that records what it was asked (and what the twin had received by then)."""

    def __init__(self, twin, action: str = "accept", approve: bool = True) -> None:  # type: ignore[no-untyped-def]
        self.twin, self.action, self.approve = twin, action, approve
        self.questions: list[str] = []
        self.seen_at_question: list[tuple[int, int]] = []

    async def __call__(self, context, params) -> ElicitResult:  # type: ignore[no-untyped-def]
        self.questions.append(params.message)
        self.seen_at_question.append((len(self.twin.state.uploads), self.twin.state.submit_count()))
        if self.action == "accept":
            return ElicitResult(action="accept", content={"approve": self.approve})
        return ElicitResult(action=self.action)


async def _add(connect, video, user=None, **extra):  # type: ignore[no-untyped-def]
    kwargs = {"elicitation_callback": user} if user is not None else {}
    async with connect(**kwargs) as client:
        return await client.call_tool(
            "add_audio_to_video", {"video": str(video), "prompt": "x", "duration": 2, **extra}
        )


async def test_accept_runs_the_job_after_asking_first(connect, clip, twin, output_dir) -> None:
    user = User(twin)
    result = await _add(connect, clip(), user)
    assert result.is_error is False, result.content[0].text
    assert len(user.questions) == 1 and "$0.002" in user.questions[0] and "fal-ai/mmaudio-v2" in user.questions[0]
    assert user.seen_at_question == [(0, 0)]  # asked before the upload and the submit
    assert twin.state.submit_count() == 1 and len(files_in(output_dir)) == 1


@pytest.mark.parametrize(
    "action, approve, words",
    [
        ("decline", True, "You declined the spend"),
        ("cancel", True, "was cancelled"),
        ("accept", False, "chose not to approve"),
    ],
)
async def test_no_approval_means_nothing_uploaded_or_submitted(
    connect, clip, twin, output_dir, action, approve, words
) -> None:
    user = User(twin, action, approve)
    result = await _add(connect, clip(), user)
    assert result.is_error is True
    text = result.content[0].text
    assert words in text and "Nothing was uploaded, submitted or charged" in text and "$0.002" in text
    assert len(user.questions) == 1
    assert twin.state.uploads == [] and twin.state.submit_count() == 0 and files_in(output_dir) == []


async def test_client_without_elicitation_gets_a_quote_to_approve_and_nothing_runs(connect, clip, twin) -> None:
    result = await _add(connect, clip())  # two-step approval: see tests/test_two_step_approval.py
    assert result.is_error is False and result.structured_content["status"] == "needs_approval"
    text = result.content[0].text
    assert "ALICE_CONFIRM_SPEND_ABOVE_USD" in text and "$0.002" in text and "approval_id" in text
    assert twin.state.uploads == [] and twin.state.submit_count() == 0


@pytest.mark.parametrize(
    "forged",
    [
        {"guard": {"roots": None, "confirm": True}},
        {"approve": True},
        {"confirm": True, "consent": "yes"},
        {"answer": {"action": "accept", "content": {"approve": True}}},
    ],
)
async def test_no_argument_stands_in_for_the_users_answer(connect, clip, twin, forged) -> None:
    """An argument the tool does not take is refused by name before anything runs: no question, no submit."""
    user = User(twin)
    asked = await _add(connect, clip(), user, **forged)
    unasked = await _add(connect, clip(), **forged)
    for result in (asked, unasked):
        assert result.is_error, result.content[0].text
        assert all(f"`{name}`" in result.content[0].text for name in forged), result.content[0].text
        assert "not an argument" in result.content[0].text or "not arguments" in result.content[0].text
    assert user.questions == [] and twin.state.submit_count() == 0 and twin.state.uploads == []


async def test_the_question_quotes_what_the_clip_will_bill(connect, clip, twin) -> None:
    """No duration given: the clip's length (2 s, the media plan's rule) is billed, not the 8 s table default."""
    user = User(twin)
    async with connect(elicitation_callback=user) as client:
        result = await client.call_tool("add_audio_to_video", {"video": str(clip(seconds=2.0)), "prompt": "x"})
    assert result.is_error is False, result.content[0].text
    assert len(user.questions) == 1 and "$0.002" in user.questions[0]
    assert result.structured_content["cost_usd"] == 0.002


async def test_below_the_threshold_nobody_is_asked(connect, clip, twin, monkeypatch) -> None:
    monkeypatch.setenv("ALICE_CONFIRM_SPEND_ABOVE_USD", "0.002")  # exactly the cost: not above it
    user = User(twin, "decline")
    result = await _add(connect, clip(), user)
    assert result.is_error is False, result.content[0].text
    assert user.questions == [] and twin.state.submit_count() == 1


async def test_a_request_that_will_fail_is_not_put_to_the_user(connect, home, twin) -> None:
    user = User(twin)
    result = await _add(connect, home / "missing.mp4", user)
    assert result.is_error and "not found" in result.content[0].text.lower()
    assert user.questions == []


async def test_text_to_audio_asks_too(connect, twin, output_dir) -> None:
    for action, submits in (("decline", 0), ("accept", 1)):
        user = User(twin, action)
        async with connect(elicitation_callback=user) as client:
            result = await client.call_tool("generate_audio", {"prompt": "rain", "duration": 3})
        assert result.is_error is (action == "decline")
        assert len(user.questions) == 1 and "$0.003" in user.questions[0]
        assert twin.state.submit_count() == submits


async def test_confirm_off_never_asks(connect, clip, twin, monkeypatch) -> None:
    monkeypatch.setenv("ALICE_CONFIRM_SPEND_ABOVE_USD", "off")
    result = await _add(connect, clip())
    assert result.is_error is False, result.content[0].text


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_consent_over_real_stdio(alice_env, clip, twin, mode) -> None:
    user = User(twin, "decline")
    env = {**alice_env, "ALICE_CONFIRM_SPEND_ABOVE_USD": "0.001"}
    async with Client(stdio_params(env), mode=mode, elicitation_callback=user) as client:
        declined = await client.call_tool("add_audio_to_video", {"video": str(clip()), "prompt": "x", "duration": 2})
        user.action = "accept"
        accepted = await client.call_tool("add_audio_to_video", {"video": str(clip()), "prompt": "x", "duration": 2})
    assert declined.is_error and "declined" in declined.content[0].text
    assert accepted.is_error is False, accepted.content[0].text
    assert len(user.questions) == 2 and twin.state.submit_count() == 1


async def test_python_api_confirm_callback(inprocess_env, clip, twin) -> None:
    """The core asks the face's callback with the quote; no callback above the threshold fails closed."""
    from alice_mcp.adapters.settings import load_settings
    from alice_mcp.data.errors import AliceError
    from alice_mcp.engine.core import AliceCore
    from alice_mcp.engine.models import VideoAudioRequest

    asked = []

    async def confirm(quote) -> bool:  # type: ignore[no-untyped-def]
        asked.append(quote)
        return True

    core = AliceCore(load_settings())
    try:
        request = VideoAudioRequest(video=str(clip()), values={"prompt": "x", "duration": 2})
        with pytest.raises(AliceError) as refused:
            await core.add_audio_to_video(request)
        assert refused.value.code == "approval_unavailable"
        result = await core.add_audio_to_video(request, confirm=confirm)
    finally:
        await core.aclose()
    assert [q.usd for q in asked] == [0.002] and result.cost_usd == 0.002
    assert twin.state.submit_count() == 1


async def test_a_batch_never_asks_and_refuses_jobs_that_need_approval(connect, clip, twin) -> None:
    user = User(twin)
    async with connect(elicitation_callback=user) as client:
        result = await client.call_tool(
            "add_audio_to_videos",
            {"videos": [str(clip("a.mp4")), str(clip("b.mp4", seconds=1.5))], "prompt": "x", "duration": 2},
        )
    assert result.is_error is False, result.content[0].text
    items = result.structured_content["items"]
    assert [i["status"] for i in items] == ["failed", "failed"]
    assert all("ALICE_CONFIRM_SPEND_ABOVE_USD" in i["error"] for i in items)
    assert user.questions == [] and twin.state.uploads == [] and twin.state.submit_count() == 0


@pytest.mark.skipif(not hasattr(__import__("os"), "openpty"), reason="needs a pseudo-terminal")
@pytest.mark.parametrize("answer, approved", [(b"n\n", False), (b"y\n", True)])
def test_the_command_line_asks_on_a_terminal(alice_env, twin, answer, approved) -> None:
    """On a terminal the CLI asks (stderr) and reads the answer (stdin); without one it needs --yes (test_cli)."""
    import os
    import subprocess

    from tests.conftest import ALICE_BIN

    env = {**alice_env, "ALICE_CONFIRM_SPEND_ABOVE_USD": "0.001"}
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [str(ALICE_BIN), "text-to-audio", "--prompt", "rain", "--duration", "2"],
        env=env,
        stdin=slave,
        stderr=slave,
        stdout=subprocess.PIPE,
    )
    os.close(slave)
    seen = b""
    while b"Approve? [y/N]" not in seen:
        seen += os.read(master, 1024)
    os.write(master, answer)
    stdout, _ = proc.communicate(timeout=60)
    while True:  # drain what the CLI wrote to the terminal after the answer
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert b"$0.002" in seen
    assert (proc.returncode == 0) is approved and twin.state.submit_count() == (1 if approved else 0)
    assert stdout.strip().endswith(b".flac") is approved

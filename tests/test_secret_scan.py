"""FAL_KEY appears in no tool result, log line, error text or exception message.

Real server processes (the console script, stdio, DEBUG logging: the most verbose case) run with a recognisable fake
key through successes, fal's error answers (401, 403, 422, failed jobs) and injected faults; every byte they write
to stdout and stderr is scanned for the key and its secret half.
"""

from __future__ import annotations

import json
from typing import Callable

import pytest

from tests.conftest import FAKE_KEY
from tests.test_stdout_purity import _messages, _run

ID_SECRET_KEY = "twin-id-4242:twin-secret-9e1d77"


def _video_call(call_id: int, video: str, **args) -> dict:  # type: ignore[no-untyped-def]
    return {
        "jsonrpc": "2.0",
        "id": call_id,
        "method": "tools/call",
        "params": {"name": "add_audio_to_video", "arguments": {"video": video, "prompt": "x", "duration": 1, **args}},
    }


def _audio_call(call_id: int, **args) -> dict:  # type: ignore[no-untyped-def]
    return {
        "jsonrpc": "2.0",
        "id": call_id,
        "method": "tools/call",
        "params": {"name": "generate_audio", "arguments": {"prompt": "x", "duration": 1, **args}},
    }


SCENARIOS: dict[str, Callable] = {
    "success": lambda twin: None,
    "fal_401": lambda twin: setattr(twin.state, "valid_keys", {"someone-else"}),
    "fal_403": lambda twin: setattr(twin.state, "forbidden_keys", {FAKE_KEY, ID_SECRET_KEY}),
    "fal_422": lambda twin: setattr(twin.state, "schema_overrides", {"duration": {"le": 0.5}}),
    "job_failed": lambda twin: twin.state.fail_next_jobs(
        2, error="CUDA out of memory", error_type="runner_server_error"
    ),
    "submit_reset": lambda twin: twin.state.add_fault("submit", "reset", times=2),
    "submit_500": lambda twin: twin.state.add_fault("submit", 500, times=2),
    "status_500": lambda twin: twin.state.add_fault("status", 500, times=20),
    "result_503_app": lambda twin: twin.state.add_fault("result", 503, times=20, app=True),
    "download_500": lambda twin: twin.state.add_fault("download", 500, times=20),
    "upload_reset_once": lambda twin: twin.state.add_fault("upload", "reset", times=1),
    "upload_500": lambda twin: twin.state.add_fault("upload", 500, times=20),
}
RECOVERS = {"success", "upload_reset_once"}
CASES = [(FAKE_KEY, name) for name in SCENARIOS] + [
    (ID_SECRET_KEY, name) for name in ("success", "fal_401", "submit_500")
]


def _scan(env: dict[str, str], requests: list[dict], secrets: list[str]) -> list[dict]:
    stdout, stderr = _run(env, _messages(*requests), {1, *(r["id"] for r in requests)})
    answers = [json.loads(line) for line in stdout if line.strip()]
    assert {r["id"] for r in requests} <= {a.get("id") for a in answers}, stderr[-3000:]
    everything = "\n".join(stdout) + "\n" + stderr
    for secret in secrets:
        assert secret not in everything, f"leaked {secret!r}"
    return answers


@pytest.mark.parametrize("key, scenario", CASES)
def test_the_key_never_leaves_the_process(alice_env, clip, twin, scenario, key) -> None:
    SCENARIOS[scenario](twin)
    env = {
        **alice_env,
        "FAL_KEY": key,
        "ALICE_LOG_LEVEL": "DEBUG",
        "PATH": "/usr/bin:/bin",
        "ALICE_HTTP_TIMEOUT_S": "5",
    }
    answers = _scan(env, [_video_call(2, str(clip())), _audio_call(3)], [key, key.split(":")[-1]])
    by_id = {a.get("id"): a for a in answers}
    if scenario in RECOVERS:
        assert by_id[2]["result"]["isError"] is False and by_id[3]["result"]["isError"] is False, by_id
    else:  # the scenario really took an error path
        assert by_id[2]["result"]["isError"] is True or by_id[3]["result"]["isError"] is True


def test_the_key_stays_secret_on_refusals_and_config_errors(alice_env, tmp_path, twin) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    env = {
        **alice_env,
        "ALICE_LOG_LEVEL": "DEBUG",
        "PATH": "/usr/bin:/bin",
        "ALICE_CONFIRM_SPEND_ABOVE_USD": "0.0001",
        "ALICE_OUTPUT_DIR": str(blocker / "out"),
    }
    answers = _scan(env, [_video_call(2, "/etc/passwd"), _audio_call(3), _video_call(4, "ftp://x/y.mp4")], [FAKE_KEY])
    # each is refused: an error, or (above the approval threshold, on a host that cannot ask) a quote to approve
    assert all(
        a["result"]["isError"] or (a["result"].get("structuredContent") or {}).get("status") == "needs_approval"
        for a in answers
        if a.get("id") in (2, 3, 4)
    )


def test_a_malformed_key_is_refused_without_being_echoed(alice_env, clip, twin) -> None:
    bad = "twin-id:secret-with\nnewline-5c3b"
    env = {**alice_env, "FAL_KEY": bad, "ALICE_LOG_LEVEL": "DEBUG", "PATH": "/usr/bin:/bin"}
    answers = _scan(env, [_video_call(2, str(clip()))], ["secret-with", "newline-5c3b"])
    text = next(a for a in answers if a.get("id") == 2)["result"]["content"][0]["text"]
    assert "FAL_KEY contains" in text and twin.state.uploads == [] and twin.state.submit_count() == 0

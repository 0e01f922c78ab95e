"""Property-based fuzzing of every tool's arguments through the REAL stdio server (one long-lived process per test).

Wrong types, huge and unicode strings, NaN/inf, negatives, nested junk, unknown fields, non-object arguments and
unknown tools: every call gets a well-formed JSON-RPC answer (a tool result, ``isError`` with a clear message when
the input is invalid, never the SDK's bare crash text), the server never dies, and stdout carries only JSON-RPC.
A per-call spend cap of a millionth of a dollar keeps any accidentally valid paid call from being submitted.
"""

from __future__ import annotations

import json
import queue
import subprocess
import tempfile
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import ALICE_BIN

BASE_TOOLS = {"add_audio_to_video", "generate_audio", "estimate_cost", "list_audio_presets"}
NAN, INF = "__NaN__", "__Infinity__"  # placeholders: JSON has no literal for these, Python's encoder writes them

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([NAN, INF, -1, 0, 1e308, -1e-308, 65536, 31, 2**53 + 1]),
    st.text(max_size=40),
    st.sampled_from(
        [
            "x" * 100_000,
            "\u202e\u0000\ufeff",
            "😀" * 3000,
            "../../.ssh/id_rsa",
            "~/.aws/credentials",
            "/dev/zero",
            "file:///etc/shadow",
            "https://169.254.169.254/latest",
            "C:\\Windows\\win.ini",
            "tavern",
            "${user_config.x}",
            "NaN",
            "1e309",
            "-0",
            " ",
            "",
        ]
    ),
)
junk = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def arguments_for(known: list[str]) -> st.SearchStrategy[Any]:
    fields = st.dictionaries(st.sampled_from(known), junk, max_size=len(known)) if known else st.just({})
    unknown = st.dictionaries(st.text(min_size=1, max_size=12), junk, max_size=3)
    as_object = st.builds(lambda a, b: {**b, **a}, fields, unknown)
    return st.one_of(as_object, as_object, as_object, as_object, as_object, junk)  # now and then not an object


def calls_for(tools: dict[str, list[str]]) -> st.SearchStrategy[tuple[Any, Any]]:
    """(name, arguments): mostly the server's own tools with their own argument names, now and then junk."""
    known = st.sampled_from(sorted(tools)).flatmap(lambda tool: st.tuples(st.just(tool), arguments_for(tools[tool])))
    return st.one_of(known, known, known, known, st.tuples(st.text(max_size=30) | junk, junk))


class StdioServer:
    """The real console script over pipes; answers are read on a thread so a hang fails the test instead of it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [str(ALICE_BIN)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            encoding="utf-8",
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.next_id = 100
        self.send(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "fuzz", "version": "1"},
                },
            }
        )
        assert "result" in self.answer(1)
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def send(self, message: dict) -> None:
        text = json.dumps(message).replace(f'"{NAN}"', "NaN").replace(f'"{INF}"', "Infinity")
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def answer(self, call_id: int, timeout: float = 10.0) -> dict:
        while True:
            line = self.lines.get(timeout=timeout)  # queue.Empty = the server hung
            message = json.loads(line)  # anything but JSON on stdout fails here
            assert message.get("jsonrpc") == "2.0", line
            if message.get("id") == call_id:
                return message

    def tools(self) -> dict[str, list[str]]:
        """Every tool the server lists, with its argument names (so new tools are fuzzed too)."""
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": "tools/list"})
        listed = self.answer(self.next_id)["result"]["tools"]
        return {tool["name"]: sorted(tool["inputSchema"].get("properties", {})) for tool in listed}

    def call(self, name: Any, arguments: Any) -> dict:
        self.next_id += 1
        self.send(
            {
                "jsonrpc": "2.0",
                "id": self.next_id,
                "method": "tools/call",
                "params": {"name": name, "arguments": arguments},
            }
        )
        return self.answer(self.next_id)

    def close(self) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.stderr.seek(0)
        return self.stderr.read()


@pytest.fixture
def server(alice_env: dict[str, str], twin):  # type: ignore[no-untyped-def]
    env = {**alice_env, "PATH": "/usr/bin:/bin", "ALICE_MAX_COST_PER_CALL_USD": "0.000001"}
    running = StdioServer(env)
    yield running
    stderr = running.close()
    assert "Traceback" not in stderr, stderr[-3000:]
    assert twin.state.submit_count() == 0 and twin.state.rejected_submits == [] and twin.state.uploads == []


def _check(answer: dict, name: Any, arguments: Any, tools: dict) -> None:
    if isinstance(name, str) and name in tools and isinstance(arguments, dict):
        assert "result" in answer, answer  # a tool result, not a protocol error
    if "error" in answer:
        assert isinstance(answer["error"].get("code"), int) and answer["error"].get("message")
        return
    result = answer["result"]
    assert isinstance(result.get("content"), list)
    if result.get("isError"):
        text = result["content"][0]["text"]
        assert text.strip() and "this is a bug" not in text
        assert not text.rstrip().endswith(f"Error executing tool {name}"), text  # the SDK's bare crash text
        assert len(text) < 20_000  # a clear message, not an echo of a huge argument


def test_fuzzed_tool_calls_always_get_well_formed_answers(server) -> None:
    tools = server.tools()
    assert BASE_TOOLS <= set(tools)
    first = server.next_id

    # No shrinking: each step would be another call to the live server; a failure reports the generated call as is.
    @settings(
        max_examples=300,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        database=None,
    )
    @given(call=calls_for(tools))
    def fuzz_once(call: tuple[Any, Any]) -> None:
        name, arguments = call
        _check(server.call(name, arguments), name, arguments, tools)
        assert server.proc.poll() is None, "the server died"

    fuzz_once()
    assert server.next_id - first >= 300  # every example really went over the wire
    # and it still works afterwards
    presets = server.call("list_audio_presets", {})
    assert presets["result"]["isError"] is False and presets["result"]["structuredContent"]["presets"]


def test_an_unparseable_line_does_not_kill_the_server(server) -> None:
    # A line that is not JSON (or a lone surrogate escape, which the SDK's parser rejects) is dropped by the SDK's
    # stdio transport without an answer (it cannot know the id); the server carries on.
    assert server.proc.stdin is not None
    server.proc.stdin.write(
        'not json\n{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": '
        '"list_audio_presets", "arguments": {"a": "\\ud800"}}}\n'
    )
    server.proc.stdin.flush()
    assert server.call("list_audio_presets", {})["result"]["isError"] is False


def test_invalid_paid_calls_explain_themselves(server, home) -> None:
    answers = {
        "nan": server.call("add_audio_to_video", {"video": str(home / "a.mp4"), "prompt": "x", "duration": NAN}),
        "negative": server.call("generate_audio", {"prompt": "x", "duration": -5}),
        "type": server.call("generate_audio", {"prompt": ["x"], "seed": "forty-two"}),
        "huge": server.call("generate_audio", {"prompt": "x" * 100_000}),
        "unknown_only": server.call("add_audio_to_video", {"vid": "x"}),
        "overflow": server.call("estimate_cost", {"duration": INF}),
    }
    texts = {key: a["result"]["content"][0]["text"] for key, a in answers.items()}
    assert all(a["result"]["isError"] for a in answers.values()), texts
    assert "duration" in texts["nan"] and "duration" in texts["negative"] and "duration" in texts["overflow"]
    assert "prompt" in texts["type"] and "seed" in texts["type"]
    assert "prompt" in texts["huge"] and "2000" in texts["huge"]
    assert "video" in texts["unknown_only"]

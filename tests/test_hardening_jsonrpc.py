"""Issue 12, finding 15: malformed JSON-RPC gets a JSON-RPC error, never silence.

The real console script over stdio (what MCP hosts launch): each malformed line is answered with -32700, -32600 or
-32602 per JSON-RPC 2.0, the server keeps serving, and stdout stays pure JSON-RPC. The whole exchange has a
deadline, so a line left unanswered fails the test instead of hanging it.
"""

from __future__ import annotations

import json
import subprocess
import threading

import pytest

from tests.conftest import ALICE_BIN

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
CASES = [  # (raw line, expected id, expected code)
    ('{"jsonrpc":"2.0","id":10,"method":"tools/list","params":"x"}', 10, -32602),
    ('{"jsonrpc":"2.0","id":11,"method":"tools/call","params":[1,2]}', 11, -32602),
    ('{"jsonrpc":"2.0","id":12,"method":"ping","params":5}', 12, -32602),
    ('{"jsonrpc":"2.0","id":13,"method":"ping","params":true}', 13, -32602),
    ('{"jsonrpc":"2.0","id":14}', 14, -32600),
    ('{"jsonrpc":"2.0","id":15,"method":7}', 15, -32600),
    ('{"jsonrpc":"2.0","id":null,"method":"ping"}', None, -32600),
    ('{"jsonrpc":"2.0","id":1.5,"method":"ping"}', None, -32600),
    ('{"jsonrpc":"2.0","id":16,"method":"ping"', None, -32700),
    ('{"jsonrpc":"2.0","id":17,"method":"ping","params":{"a":' + "[" * 5000 + "]" * 5000 + "}}", None, -32700),
    ("[1, 2]", None, -32600),
    ('"just a string"', None, -32600),
]


def test_every_malformed_line_gets_its_json_rpc_error(alice_env) -> None:
    lines = [json.dumps(INIT), json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"})]
    lines += [raw for raw, _, _ in CASES]
    lines.append('{"jsonrpc":"2.0","method":"notifications/x","params":"not an object"}')  # a notification: no answer
    lines.append(json.dumps({"jsonrpc": "2.0", "id": 99, "method": "ping"}))
    proc = subprocess.Popen(
        [str(ALICE_BIN)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=alice_env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    answers: list[dict] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            answers.append(json.loads(line))  # stdout is JSON-RPC only
            if len(answers) == len(CASES) + 2:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    proc.stdin.write("\n".join(lines) + "\n")
    proc.stdin.flush()
    reader.join(timeout=60)
    proc.stdin.close()
    proc.wait(timeout=30)
    errors = [a for a in answers if "error" in a]
    got = sorted(((a["id"] if a["id"] is not None else -1), a["error"]["code"]) for a in errors)
    want = sorted(((i if i is not None else -1), code) for _, i, code in CASES)
    assert got == want, answers
    assert any(a.get("id") == 99 and a.get("result") == {} for a in answers)  # still serving after all that
    assert all(a["jsonrpc"] == "2.0" for a in answers)


@pytest.mark.parametrize(
    "raw, code",
    [
        ("{", -32700),
        ('{"jsonrpc":"1.0","id":1,"method":"ping"}', -32600),
        ('{"jsonrpc":"2.0","id":true,"method":"x"}', -32600),
    ],
)
def test_check_line_words(raw, code) -> None:
    from alice_mcp.mcp.stdio_guard import check_line

    problem = check_line(raw)
    assert problem and problem["error"]["code"] == code

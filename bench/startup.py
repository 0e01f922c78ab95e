"""P1 start-up: spawn → answered `tools/list`, alice-mcp vs a bare one-tool MCPServer. Target: ratio ≤ 1.2.

    python bench/startup.py [--runs 15]

Each run starts a fresh process, sends initialize + initialized + tools/list on stdin and stops the clock when the
tools/list answer arrives on stdout. Runs alternate between the two servers; the report gives medians and spread.
Every start after the first of a build reads the tool list that first start stored (ALICE_CACHE_DIR); the first
start of a build is measured too, each run with an empty cache folder.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE_SERVER = '''
from mcp.server import MCPServer
mcp = MCPServer("bare")

@mcp.tool()
async def echo(text: str) -> str:
    """Echo."""
    return text

mcp.run("stdio")
'''

HANDSHAKE = "".join(
    json.dumps(m) + "\n"
    for m in (
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "bench", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    )
)


def time_to_tools_list(command: list[str], env: dict[str, str]) -> float:
    """Seconds from spawn to the tools/list answer."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(HANDSHAKE.encode())
        proc.stdin.flush()
        for line in proc.stdout:
            if json.loads(line).get("id") == 2:
                return time.perf_counter() - started
        raise RuntimeError(f"{command} exited without answering tools/list")
    finally:
        proc.kill()
        proc.wait()


def measure(runs: int, tiny: bool = False) -> dict:
    """Interleaved runs of both servers; returns medians, spreads and the ratio."""
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare_server.py"
        bare.write_text(BARE_SERVER)
        env = {
            **os.environ,
            "ALICE_OUTPUT_DIR": str(Path(tmp) / "out"),
            "ALICE_DATA_DIR": str(Path(tmp) / "data"),
            "ALICE_CACHE_DIR": str(Path(tmp) / "cache"),
        }
        env.pop("FAL_KEY", None)
        alice_cmd = [sys.executable, "-m", "alice_mcp"]
        bare_cmd = [sys.executable, str(bare)]
        # warm the page cache; alice-mcp's first start of this build stores its tool list (every later start reads it)
        time_to_tools_list(alice_cmd, env), time_to_tools_list(bare_cmd, env)
        alice, baseline, cold = [], [], []
        for i in range(runs):
            alice.append(time_to_tools_list(alice_cmd, env))
            baseline.append(time_to_tools_list(bare_cmd, env))
            # the first start of a build: no stored tool list, every tool built before tools/list is answered
            cold.append(time_to_tools_list(alice_cmd, {**env, "ALICE_CACHE_DIR": str(Path(tmp) / f"cold{i}")}))
    a, b = statistics.median(alice), statistics.median(baseline)
    return {
        "cold": {"median": statistics.median(cold), "min": min(cold), "max": max(cold), "n": runs},
        "cold_runs": cold,
        "cold_ratio": statistics.median(cold) / b,
        "alice": {"median": a, "min": min(alice), "max": max(alice), "n": runs},
        "naive": {"median": b, "min": min(baseline), "max": max(baseline), "n": runs},
        "target": 1.2,
        "alice_median_s": a,
        "alice_min_s": min(alice),
        "alice_max_s": max(alice),
        "bare_median_s": b,
        "bare_min_s": min(baseline),
        "bare_max_s": max(baseline),
        "ratio": a / b,
        "runs": runs,
        "alice_runs": alice,
        "bare_runs": baseline,
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
    }


def p1_figures(tiny: bool) -> dict:
    """P1 figure for bench/run.py."""
    from common import figure

    r = measure(3 if tiny else 15)
    row = figure(
        "P1",
        "start-up: spawn → answered tools/list, vs a bare one-tool MCPServer",
        r["alice_runs"],
        r["bare_runs"],
        unit="s",
        target="≤ 1.2×",
        met=r["ratio"] <= 1.2,
    )
    cold = figure(
        "P1b",
        "start-up of a new build (no stored tool list yet), vs the same bare server",
        r["cold_runs"],
        r["bare_runs"],
        unit="s",
        target="(shown)",
        met=None,
    )
    return {
        "figures": [row, cold],
        "notes": "fresh processes, interleaved; no FAL_KEY (start-up must not need it). P1 is every start after the "
        "first of a build (the tool list stored then is read); P1b is that first start.",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    r = measure(args.runs)
    print(f"P1 start-up (spawn → tools/list), {r['runs']} interleaved runs, {r['machine']}")
    print(
        f"  alice-mcp : median {r['alice_median_s'] * 1000:.0f} ms (min {r['alice_min_s'] * 1000:.0f}, max {r['alice_max_s'] * 1000:.0f})"
    )
    print(
        f"  bare MCP  : median {r['bare_median_s'] * 1000:.0f} ms (min {r['bare_min_s'] * 1000:.0f}, max {r['bare_max_s'] * 1000:.0f})"
    )
    print(f"  ratio     : {r['ratio']:.2f}x (target ≤ 1.20x) {'OK' if r['ratio'] <= 1.2 else 'MISSED'}")
    print(
        f"  first start of a build (no stored tool list): median {r['cold']['median'] * 1000:.0f} ms, "
        f"{r['cold_ratio']:.2f}x the bare server"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

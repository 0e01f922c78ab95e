"""Run every benchmark in one go, print a table and write BENCHMARKS.md (issue 7).

    python bench/run.py                 # full sizes, several runs each
    python bench/run.py --tiny          # tiny sizes, one or two runs: proves the benches work (CI smoke)
    python bench/run.py --only P1,P6

Each scenario returns medians and spread for alice-mcp and its baseline, the ratio and the target. Medians and
ratios only: the machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import importlib
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, machine  # noqa: E402


def _p1(tiny: bool) -> dict[str, Any]:
    return importlib.import_module("startup").measure(3 if tiny else 15)


def _p6(tiny: bool) -> dict[str, Any]:
    return asyncio.run(importlib.import_module("overhead").measure(2 if tiny else 9))


SCENARIOS: dict[str, tuple[str, str, Callable[[bool], dict[str, Any]]]] = {
    "P1": ("start-up: spawn → tools/list (vs bare MCPServer)", "s", _p1),
    "P6": ("overhead per call, small clip, zero-latency twin (vs naive)", "s", _p6),
}


def _cell(stats: dict[str, Any] | None, unit: str) -> str:
    if not stats:
        return "–"
    if unit == "s":
        return f"{stats['median']:.3f} s ({stats['min']:.3f}–{stats['max']:.3f}, n={stats['n']})"
    return f"{stats['median']:.4g} {unit} ({stats['min']:.4g}–{stats['max']:.4g}, n={stats['n']})"


def render(results: dict[str, dict[str, Any]], tiny: bool) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Run `python bench/run.py{' --tiny' if tiny else ''}` on {datetime.date.today()} — machine: {machine()}.",
        "Medians with (min–max, runs). alice-mcp and its baseline run interleaved in one process tree against the same",
        "fal twin. Ratios are alice ÷ baseline; lower is better.",
        "",
        "| id | what | alice-mcp | baseline | ratio | target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, r in results.items():
        what, unit, _ = SCENARIOS[key]
        if "error" in r:
            lines.append(f"| {key} | {what} | error: {r['error']} | | | | no |")
            continue
        met = "yes" if r["ratio"] <= r["target"] else "**no**"
        lines.append(
            f"| {key} | {what} | {_cell(r.get('alice'), unit)} | {_cell(r.get('naive'), unit)} | "
            f"{r['ratio']:.2f}× | ≤ {r['target']}× | {met} |"
        )
    for key, r in results.items():
        if r.get("notes"):
            lines += ["", f"**{key}**: {r['notes']}"]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny sizes and few runs (smoke test)")
    parser.add_argument("--only", default="", help="comma-separated scenario ids, e.g. P1,P6")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"), help="where to write the report")
    args = parser.parse_args()
    wanted = [k.strip().upper() for k in args.only.split(",") if k.strip()] or list(SCENARIOS)
    results: dict[str, dict[str, Any]] = {}
    for key in wanted:
        started = time.perf_counter()
        try:
            results[key] = SCENARIOS[key][2](args.tiny)
        except Exception as exc:  # a broken scenario is reported, the others still run
            results[key] = {"error": f"{type(exc).__name__}: {exc}"}
        print(f"{key} done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    report = render(results, args.tiny)
    print(report)
    Path(args.out).write_text(report)
    return 0 if all("error" not in r for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())

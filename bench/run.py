"""Run every benchmark in one go, print a table and write BENCHMARKS.md (issue 7).

    python bench/run.py                 # full sizes, several runs each (about 10 minutes on 2 cores)
    python bench/run.py --tiny          # tiny sizes, one or two runs: proves the benches work (CI smoke)
    python bench/run.py --only P1,P6 --keep /tmp/bench-media --out /tmp/report.md
    python bench/run.py --only P7 --keep /tmp/bench-media   # opt-in: a 5-minute 1080p soundtrack (~4 minutes)

The scenarios live in their own modules (startup P1, media P2, memory P3, jobs P4/P5, overhead P6, soundtrack P7,
run only when asked for: ``OPT_IN``); each returns
figures: alice-mcp's runs and its baseline's (median and spread), the ratio, the target, and whether it was met.
Medians and ratios only: the machines are shared and noisy. Hand-written findings in the report (everything from the
``FINDINGS_MARKER`` heading on) survive a rerun.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import importlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, machine  # noqa: E402

FINDINGS_MARKER = "## Findings"


def _sync(module: str, name: str) -> Callable[[bool, Path], dict]:
    return lambda tiny, media: getattr(importlib.import_module(module), name)(tiny)


def _async(module: str, name: str, with_media: bool = False) -> Callable[[bool, Path], dict]:
    def run(tiny: bool, media: Path) -> dict:
        scenario = getattr(importlib.import_module(module), name)
        return asyncio.run(scenario(media, tiny) if with_media else scenario(tiny))

    return run


SCENARIOS: dict[str, tuple[str, Callable[[bool, Path], dict]]] = {
    "P1": ("start-up", _sync("startup", "p1_figures")),
    "P2": ("upload bytes and time, big clips, 20 Mbit/s uplink", _async("media", "p2", with_media=True)),
    "P3": ("server memory, ~95 MB and ~1 GB inputs", _async("memory", "p3", with_media=True)),
    "P4": ("repeated deterministic request (cache)", _async("jobs", "p4_figures")),
    "P5": ("concurrency and event-loop lag", _async("jobs", "p5_figures")),
    "P6": ("per-call overhead", _async("overhead", "p6_figures")),
    "P7": ("a 5-minute 1080p soundtrack of 25 parts", _async("soundtrack", "p7", with_media=True)),
}
#: Scenarios run only when named in ``--only`` (slow: minutes each at full size).
OPT_IN = {"P7"}


def _number(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.3f}"
    if unit in ("ms", "MB"):
        return f"{value:.1f}" if value < 100 else f"{value:.0f}"
    return f"{value:,.0f}"


def _cell(stats: dict[str, Any] | None, unit: str) -> str:
    if not stats:
        return "–"
    spread = f"{_number(stats['min'], unit)}–{_number(stats['max'], unit)}"
    return f"{_number(stats['median'], unit)} {unit} ({spread}, n={stats['n']})"


def _met(value: bool | None) -> str:
    return "–" if value is None else ("yes" if value else "**no**")


def render(results: dict[str, dict[str, Any]], tiny: bool, started: dict[str, Any], finished: dict[str, Any]) -> str:
    command = "python bench/run.py" + (" --tiny" if tiny else "")
    lines = [
        "# Benchmarks",
        "",
        f"`{command}` on {started['date']} — machine: {machine()}; load average (1/5/15 min) "
        f"{started['load']} before, {finished['load']} after; {finished['minutes']:.1f} minutes in all.",
        "",
        "Medians with (min–max, runs). alice-mcp and its baseline run interleaved against the same fal twin (a local",
        "emulator of fal's HTTP API, tests/fal_twin). Ratio = alice-mcp ÷ baseline (lower is better); the baseline is",
        "the naive path peers use (bench/naive.py: `fal_client.upload_file` of the original + submit + poll + httpx",
        "download) unless the figure names another. The machine is shared: other work ran on it at the same time.",
        *(
            ["", "**Tiny sizes**: a smoke run proving the benches work; the targets apply to the full sizes only."]
            if tiny
            else []
        ),
        "",
        "| id | figure | alice-mcp | baseline | ratio | target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, result in results.items():
        if "error" in result:
            lines.append(f"| {key} | {SCENARIOS[key][0]} | error: {result['error']} | | | | **no** |")
            continue
        for row in result["figures"]:
            ratio = "–" if row["ratio"] is None else f"{row['ratio']:.3g}×"
            lines.append(
                f"| {key} | {row['what']} | {_cell(row['alice'], row['unit'])} | "
                f"{_cell(row['baseline'], row['unit'])} | {ratio} | {row['target']} | {_met(row['met'])} |"
            )
    lines += ["", "How each was measured:", ""]
    for key, result in results.items():
        lines.append(f"- **{key}** ({SCENARIOS[key][0]}, {result['seconds']:.0f} s): {result.get('notes', '')}")
    missed = [
        f"{key} {row['what']}"
        for key, result in results.items()
        for row in result.get("figures", [])
        if row["met"] is False
    ]
    lines += ["", "Targets missed in this run: " + ("; ".join(missed) if missed else "none") + "."]
    return "\n".join(lines) + "\n"


def _load() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def _kept_findings(out: Path) -> str:
    """The hand-written findings section of an earlier report at ``out``, if any."""
    if not out.exists():
        return ""
    text = out.read_text()
    at = text.find("\n" + FINDINGS_MARKER)
    return text[at:] if at >= 0 else ""


def run_all(wanted: list[str], tiny: bool, media: Path) -> dict[str, dict[str, Any]]:
    """Each scenario in turn, with this process's environment restored after each; a failure is recorded, not raised."""
    results: dict[str, dict[str, Any]] = {}
    for key in wanted:
        saved = dict(os.environ)
        started = time.perf_counter()
        try:
            results[key] = SCENARIOS[key][1](tiny, media)
        except Exception as exc:  # a broken scenario is reported, the others still run
            results[key] = {"error": f"{type(exc).__name__}: {exc}".replace("|", "/").replace("\n", " ")[:300]}
        finally:
            os.environ.clear()
            os.environ.update(saved)
        results[key]["seconds"] = time.perf_counter() - started
        print(f"{key} done in {results[key]['seconds']:.1f} s", file=sys.stderr, flush=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny sizes and few runs (smoke test)")
    parser.add_argument("--only", default="", help="comma-separated scenario ids, e.g. P1,P6 (P7 only when named)")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"), help="where to write the report")
    parser.add_argument("--keep", type=Path, help="folder to keep (and reuse) the generated clips in")
    args = parser.parse_args()
    wanted = [k.strip().upper() for k in args.only.split(",") if k.strip()] or [k for k in SCENARIOS if k not in OPT_IN]
    unknown = [k for k in wanted if k not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    started = {"date": datetime.date.today(), "load": _load(), "clock": time.perf_counter()}
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        results = run_all(wanted, args.tiny, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="alice-bench-") as scratch:
            results = run_all(wanted, args.tiny, Path(scratch))
    finished = {"load": _load(), "minutes": (time.perf_counter() - started["clock"]) / 60}
    out = Path(args.out)
    report = render(results, args.tiny, started, finished)
    print(report)
    out.write_text(report + _kept_findings(out))
    return 0 if all("error" not in r for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())

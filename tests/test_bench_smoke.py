"""The benchmark runner works: ``bench/run.py --tiny`` runs every scenario (P1–P6) and writes a complete report.

Only that it runs: the numbers of a tiny run on a busy test machine say nothing, so no target is asserted here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPECTED_ROWS = {"P1": 2, "P2": 4, "P3": 2, "P4": 3, "P5": 3, "P6": 1}


def _table_rows(report: str) -> list[list[str]]:
    rows = []
    for line in report.splitlines():
        if line.startswith("| P"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def test_tiny_bench_run_reports_every_scenario_without_errors(tmp_path: Path) -> None:
    out = tmp_path / "BENCHMARKS.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALICE_", "FAL_"))}
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--tiny",
            "--out",
            str(out),
            "--keep",
            str(tmp_path / "media"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = out.read_text()
    rows = _table_rows(report)
    assert not [row for row in rows if row[2].startswith("error")], report
    counts = {key: sum(1 for row in rows if row[0] == key) for key in EXPECTED_ROWS}
    assert counts == EXPECTED_ROWS, report
    for row in rows:
        assert len(row) == 7, row
        alice_cell = row[2]
        assert alice_cell.split()[0].replace(",", "").replace(".", "", 1).isdigit(), row
        assert "n=" in alice_cell, row
    assert "load average" in report and "cores" in report  # the machine and its load are recorded

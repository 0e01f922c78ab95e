"""Media conformance report: every corpus clip (tests/media_corpus.py) x {whole, segment} x {replace, mix}, run
through the Python API against the fal twin, measured on the finished file.

    python bench/media_conformance.py [--out report.md]

Columns: how the clip went up, the measured sync error (worst click vs the flash it was made for, ms), the
duration error (audio end vs video end, ms), the generated track's level against fal's own file (dB), the
requested frames shown / requested, and the streams kept (result / original, by kind). Bounds (the issue's):
sync ±5 ms (one proxy frame for proxies that drop frames), duration within one audio frame, level ±0.5 dB.
The same assertions run in tests/test_media_conformance.py; this prints the numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fal_twin import FalTwin  # noqa: E402
from tests.media_corpus import CORPUS, MissingEncoder, build, measure  # noqa: E402


def _streams(counts: dict[str, int]) -> str:
    return " ".join(f"{counts[k]}{k[0]}" for k in ("video", "audio", "subtitle") if counts.get(k))


async def _case(name: str, segment: bool, mode: str, corpus: Path, home: Path, twin: FalTwin) -> dict:
    from alice_mcp import AliceOrchestrator, GenerationRequest

    spec = CORPUS[name]
    source = home / f"{name}{spec.suffix}"
    shutil.copyfile(build(name, corpus), source)
    twin.reset()  # the twin forgets its files: each case gets its own ledger (no remembered upload)
    os.environ["ALICE_DATA_DIR"] = str(home.parent / f"data-{name}-{segment}-{mode}")
    twin.state.queue_seconds = twin.state.run_seconds = 0.0
    twin.state.result_channels = 1
    twin.state.sync_clicks = True
    parameters: dict = {"seed": 3, "original_audio": mode}
    if segment:
        parameters["start_time"] = spec.segment_start
    async with AliceOrchestrator() as alice:
        result = await alice.generate_creative_asset(
            GenerationRequest(prompt="clicks", reference_assets=[source], parameters=parameters)
        )
    stored = twin.store.resolve(result.url or "")
    fal = measure(Path(stored.path)) if stored else None
    original, finished = measure(source), measure(Path(result.file_path))
    media = result.details.media
    origin = original.video_start
    wanted = [d for t, d in original.frames if media.segment_start - 1e-3 <= t - origin < media.segment_end - 1e-3]
    shown = {d for _, d in finished.frames}
    sync = max((min(abs(c - f) for f in finished.flashes) for c in finished.clicks), default=float("nan"))
    level = (
        finished.click_level_db - fal.click_level_db
        if fal and fal.click_level_db is not None and finished.click_level_db is not None
        else float("nan")
    )
    return {
        "clip": name,
        "mode": f"{'segment' if segment else 'whole'} {mode}",
        "upload": media.upload_method,
        "sync_ms": sync * 1000,
        "duration_ms": ((finished.audio_end or 0) - finished.video_end) * 1000,
        "level_db": level,
        "frames": f"{sum(1 for d in wanted if d in shown)}/{len(wanted)}",
        "streams": f"{_streams(finished.streams)} / {_streams(original.streams)}",
    }


async def run(out: Path | None) -> str:
    rows = []
    with tempfile.TemporaryDirectory(prefix="alice-conformance-") as tmp, FalTwin() as twin:
        work = Path(tmp)
        corpus, home = work / "corpus", work / "home"
        corpus.mkdir()
        home.mkdir()
        os.environ.update(twin.env)
        os.environ.update(
            {
                "FAL_KEY": "bench-key",
                "HOME": str(home),
                "ALICE_OUTPUT_DIR": str(work / "out"),
                "ALICE_DATA_DIR": str(work / "data"),
                "ALICE_LOG_LEVEL": "WARNING",
                "ALICE_POLL_INTERVAL_S": "0.05",
            }
        )
        for name in CORPUS:
            for segment in (False, True):
                for mode in ("replace", "mix"):
                    try:
                        rows.append(await _case(name, segment, mode, corpus, home, twin))
                    except MissingEncoder as exc:
                        rows.append({"clip": name, "mode": "skipped", "upload": str(exc)})
    lines = [
        "| input | mode | upload | sync error (ms) | duration error (ms) | level diff (dB) | frames kept | streams kept (out / in) |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if r["mode"] == "skipped":
            lines.append(f"| {r['clip']} | skipped | {r['upload']} | | | | | |")
            continue
        lines.append(
            f"| {r['clip']} | {r['mode']} | {r['upload']} | {r['sync_ms']:.1f} | {r['duration_ms']:+.1f} | "
            f"{r['level_db']:+.2f} | {r['frames']} | {r['streams']} |"
        )
    report = "\n".join(lines) + "\n"
    if out is not None:
        out.write_text(report, encoding="utf-8")
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()
    print(asyncio.run(run(args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

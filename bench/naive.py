"""The baseline: what peer MCP servers do with fal (issue 7).

``fal_client.upload_file`` of the ORIGINAL file, ``submit`` + ``handle.get()`` (fal_client's own 0.1 s status polling),
then the result downloaded in one piece with httpx. Same twin, same inputs, same machine as alice-mcp.

    python bench/naive.py VIDEO OUT [--duration 8] [--prompt TEXT]

runs one call in its own process (the environment points fal_client at the twin: HTTPS_PROXY, SSL_CERT_FILE, FAL_KEY)
and prints one JSON line: the call's timings plus this process's resident size before the call and its peak (VmHWM),
so a bench can measure the naive path's memory apart from its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import fal_client
import httpx

ENDPOINT = "fal-ai/mmaudio-v2"


async def naive_add_audio(
    client: fal_client.AsyncClient, video: Path, out: Path, *, prompt: str, duration: float
) -> dict[str, Any]:
    """Upload ``video``, run MMAudio, save the result to ``out``; returns timings and sizes."""
    started = time.perf_counter()
    url = await client.upload_file(video)
    uploaded = time.perf_counter()
    handle = await client.submit(ENDPOINT, {"video_url": url, "prompt": prompt, "duration": duration})
    result = await handle.get()
    async with httpx.AsyncClient(timeout=120) as http:
        response = await http.get(result["video"]["url"])
        response.raise_for_status()
        out.write_bytes(response.content)
    return {
        "seconds": time.perf_counter() - started,
        "upload_seconds": uploaded - started,
        "bytes_uploaded": video.stat().st_size,
        "output": str(out),
    }


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description="One naive call in its own process; prints JSON with peak RSS.")
    parser.add_argument("video", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--prompt", default="city street ambience")
    args = parser.parse_args()
    idle = _status_mb("VmRSS:")
    result = asyncio.run(
        naive_add_audio(fal_client.AsyncClient(), args.video, args.out, prompt=args.prompt, duration=args.duration)
    )
    print(json.dumps({**result, "idle_rss_mb": idle, "peak_rss_mb": _status_mb("VmHWM:")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

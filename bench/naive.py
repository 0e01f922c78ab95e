"""The baseline: what peer MCP servers do with fal (issue 7).

``fal_client.upload_file`` of the ORIGINAL file, ``submit`` + ``handle.get()`` (fal_client's own 0.1 s status polling),
then the result downloaded in one piece with httpx. Same twin, same inputs, same machine as alice-mcp.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import fal_client
import httpx

ENDPOINT = "fal-ai/mmaudio-v2"


async def naive_add_audio(client: fal_client.AsyncClient, video: Path, out: Path, *, prompt: str, duration: float) -> dict[str, Any]:
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

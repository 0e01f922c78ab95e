"""Endpoint registry: what alice-mcp knows about each fal endpoint, as data.

Adding a fal endpoint is a local change here: its id, what its output JSON holds, the file kind it produces, and its
price rule (fal-platform reference §1-§2).
"""

from __future__ import annotations

from dataclasses import dataclass

from .pricing import PriceRule


@dataclass(frozen=True)
class Endpoint:
    """One fal endpoint: ``output_key`` names the ``File`` in its output JSON; ``suffix`` is the file kind."""

    id: str
    title: str
    output_key: str
    suffix: str
    price: PriceRule


MMAUDIO_VIDEO = Endpoint(
    id="fal-ai/mmaudio-v2",
    title="MMAudio V2 (video to video with audio)",
    output_key="video",
    suffix=".mp4",
    price=PriceRule(
        usd_per_extra_second=0.001,
        source="fal.ai published price: $0.001 per second of generated audio (https://fal.ai/models/fal-ai/mmaudio-v2)",
    ),
)

MMAUDIO_TEXT = Endpoint(
    id="fal-ai/mmaudio-v2/text-to-audio",
    title="MMAudio V2 (text to audio)",
    output_key="audio",
    suffix=".flac",
    price=PriceRule(
        usd_per_extra_second=0.001,
        source="$0.001 per second of audio, as for fal-ai/mmaudio-v2 (third-party listings; not on fal's own page)",
    ),
)

ENDPOINTS: dict[str, Endpoint] = {e.id: e for e in (MMAUDIO_VIDEO, MMAUDIO_TEXT)}

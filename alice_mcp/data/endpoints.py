"""Endpoint registry: what alice-mcp knows about each fal endpoint, as data.

Adding a fal endpoint is a local change here: its id, what its output JSON holds, the file kind it produces, and its
price rule (fal-platform reference §1-§2).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from alice_mcp.data.errors import InputError
from alice_mcp.data.kling_params import KlingVideoSettings
from alice_mcp.data.params import AudioSettings
from alice_mcp.data.prices import PriceRule


@dataclass(frozen=True)
class Endpoint:
    """One fal endpoint: ``output_key`` names the ``File`` in its output JSON; ``suffix`` is the file kind;
    ``input_model`` is its parameter table; ``aliases`` are other names users may call it by."""

    id: str
    title: str
    output_key: str
    suffix: str
    price: PriceRule
    input_model: type[BaseModel] | None = None
    aliases: tuple[str, ...] = ()


MMAUDIO_VIDEO = Endpoint(
    id="fal-ai/mmaudio-v2",
    title="MMAudio V2 (video to video with audio)",
    output_key="video",
    suffix=".mp4",
    price=PriceRule(
        usd_per_extra_second=0.001,
        source="fal.ai published price: $0.001 per second of generated audio (https://fal.ai/models/fal-ai/mmaudio-v2)",
    ),
    input_model=AudioSettings,
    aliases=("mmaudio-v2", "mmaudio"),
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
    input_model=AudioSettings,
    aliases=("mmaudio-v2/text-to-audio", "mmaudio-v2-text-to-audio", "text-to-audio"),
)

# The seed guide's "kling-v2.1-pro-text" does not exist on fal (a submit gets 404): Kling v2.1 text-to-video is only
# published as "master" (fal-platform reference §1.3). The seed's name is kept as an alias of the real endpoint.
KLING_TEXT_TO_VIDEO = Endpoint(
    id="fal-ai/kling-video/v2.1/master/text-to-video",
    title="Kling v2.1 master (text to video)",
    output_key="video",
    suffix=".mp4",
    price=PriceRule(
        base_usd=1.40,
        base_seconds=5,
        usd_per_extra_second=0.28,
        source="fal.ai published price: $1.40 for 5 s + $0.28 per extra second "
        "(https://fal.ai/models/fal-ai/kling-video/v2.1/master/text-to-video)",
    ),
    input_model=KlingVideoSettings,
    aliases=(
        "kling-v2.1-pro-text",
        "fal-ai/kling-video/v2.1/pro/text-to-video",
        "kling-v2.1-master-text",
        "kling-v2.1",
        "kling",
    ),
)

ENDPOINTS: dict[str, Endpoint] = {e.id: e for e in (MMAUDIO_VIDEO, MMAUDIO_TEXT, KLING_TEXT_TO_VIDEO)}
_BY_NAME: dict[str, Endpoint] = {
    name.lower(): e for e in ENDPOINTS.values() for name in (e.id, e.id.removeprefix("fal-ai/"), *e.aliases)
}


def published_prices() -> dict[str, PriceRule]:
    """Each endpoint's published price rule, by fal endpoint id."""
    return {e.id: e.price for e in ENDPOINTS.values()}


def resolve_endpoint(name: str) -> Endpoint:
    """The endpoint called ``name`` (its fal id, the id without ``fal-ai/``, or an alias; case-insensitive).

    Raises :class:`InputError` listing the names alice-mcp knows.
    """
    endpoint = _BY_NAME.get(name.strip().lower())
    if endpoint is None:
        known = ", ".join(sorted({e.aliases[0] if e.aliases else e.id for e in ENDPOINTS.values()}))
        raise InputError(
            f"Unknown model {name!r}. Use one of: {known} (or a full fal endpoint id listed in the README)."
        )
    return endpoint

"""What alice-mcp knows about a fal endpoint, as data: its id, what its output JSON holds, the file kind it
produces, its price rule (fal-platform reference §1-§2), its parameter table and the names users may call it by.

The endpoints alice-mcp runs are registered with their recipes in :mod:`alice_mcp.engine.recipes.registry`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

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

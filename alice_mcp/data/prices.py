"""Prices and the cost formula.

The published prices live with each endpoint in :mod:`alice_mcp.data.endpoints` (fal-platform reference §2). When fal changes a price, the operator overrides it
without a release through ``ALICE_PRICE_OVERRIDES`` (JSON: ``{"fal-ai/mmaudio-v2": 0.0012}`` for a per-second price,
or a full rule object ``{"base_usd": 1.4, "base_seconds": 5, "usd_per_extra_second": 0.28}``).
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping

from pydantic import BaseModel, ValidationError

from alice_mcp.data.errors import ConfigError
from alice_mcp.data.money import usd


class PriceRule(BaseModel):
    """Cost of one job: ``base_usd`` covers the first ``base_seconds``; each further second costs
    ``usd_per_extra_second``. A pure per-second price has ``base_usd = base_seconds = 0``; a flat price per call has
    ``usd_per_extra_second = 0``. ``block_seconds`` > 0 bills whole blocks (``seconds`` rounded UP to a multiple of
    it, e.g. "$0.10 per 10 s"). ``per_sample``: the price is paid once per generated sample. ``verified`` is False
    when the rule is not fal-published text (the foley reference marks it unverified)."""

    usd_per_extra_second: float
    base_usd: float = 0.0
    base_seconds: float = 0.0
    block_seconds: float = 0.0
    per_sample: bool = False
    verified: bool = True
    source: str = ""

    def billed_seconds(self, seconds: float) -> float:
        if self.block_seconds > 0:
            return max(1, math.ceil(round(seconds, 6) / self.block_seconds)) * self.block_seconds
        return seconds

    def cost(self, seconds: float, samples: int = 1) -> float:
        extra = max(0.0, self.billed_seconds(seconds) - self.base_seconds)
        one = self.base_usd + extra * self.usd_per_extra_second
        return one * (samples if self.per_sample else 1)

    def formula(self, seconds: float, samples: int = 1) -> str:
        times = f" x {samples} samples" if self.per_sample and samples != 1 else ""
        if self.usd_per_extra_second == 0:
            return f"{usd(self.base_usd)} per call{times}"
        if self.block_seconds > 0:
            blocks = self.billed_seconds(seconds) / self.block_seconds
            price = self.block_seconds * self.usd_per_extra_second
            return f"{blocks:g} x {usd(price)} per started {self.block_seconds:g} s{times}"
        if self.base_usd:
            return (
                f"{usd(self.base_usd)} for the first {self.base_seconds:g} s + "
                f"{max(0.0, seconds - self.base_seconds):g} s x {usd(self.usd_per_extra_second)}/s"
            )
        return f"{seconds:g} s x {usd(self.usd_per_extra_second)}/s{times}"

    def describe(self) -> str:
        """The rule in words, e.g. "$0.001 per second", "$1.40 for 5 s + $0.28 per extra second" or "$0.035 per
        call" (+ "(unverified)")."""
        if self.usd_per_extra_second == 0:
            text = f"{usd(self.base_usd)} per call"
        elif self.block_seconds > 0:
            text = f"{usd(self.block_seconds * self.usd_per_extra_second)} per started {self.block_seconds:g} s"
        elif self.base_usd:
            text = (
                f"{usd(self.base_usd)} for {self.base_seconds:g} s + {usd(self.usd_per_extra_second)} per extra second"
            )
        else:
            text = f"{usd(self.usd_per_extra_second)} per second"
        if self.per_sample:
            text += " per sample"
        return text + ("" if self.verified else " (unverified)")


def parse_overrides(raw: str | None) -> dict[str, PriceRule]:
    """Parse ``ALICE_PRICE_OVERRIDES``; raises :class:`ConfigError` saying what is wrong with it."""
    if not raw or not raw.strip():
        return {}
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        rules: dict[str, PriceRule] = {}
        for endpoint, value in data.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                rule: dict[str, Any] = {"usd_per_extra_second": float(value)}
            elif isinstance(value, dict):
                rule = dict(value)
            else:
                raise ValueError(f"{endpoint}: expected a number or an object")
            rule.setdefault("source", "operator override (ALICE_PRICE_OVERRIDES)")
            parsed = PriceRule(**rule)
            if min(parsed.usd_per_extra_second, parsed.base_usd, parsed.base_seconds) < 0 or not all(
                math.isfinite(v) for v in (parsed.usd_per_extra_second, parsed.base_usd, parsed.base_seconds)
            ):
                raise ValueError(f"{endpoint}: prices must be finite and not negative")
            rules[endpoint] = parsed
        return rules
    except (ValueError, ValidationError) as exc:
        raise ConfigError(
            f"ALICE_PRICE_OVERRIDES is not valid ({exc}). Example: '{{\"fal-ai/mmaudio-v2\": 0.001}}' (USD per second)."
        ) from exc


class PriceTable:
    """The published prices with the operator's overrides applied."""

    def __init__(self, published: Mapping[str, PriceRule], overrides: Mapping[str, PriceRule] | None = None) -> None:
        self._rules = {**published, **(overrides or {})}

    def rule(self, endpoint: str) -> PriceRule:
        try:
            return self._rules[endpoint]
        except KeyError:
            raise ConfigError(f"No price is known for fal endpoint {endpoint!r}; set ALICE_PRICE_OVERRIDES.") from None

    def cost(self, endpoint: str, seconds: float, count: int = 1, samples: int = 1) -> float:
        """USD for ``count`` jobs of ``seconds`` each (``samples`` per job), rounded to a tenth of a cent's
        hundredth."""
        return round(self.rule(endpoint).cost(seconds, samples) * count, 6)

"""Takes: one add_audio_to_video request made as 1-4 variants, planned and priced as a whole before anything is paid.

Contract of :func:`plan_takes`:

* Variants differ by seed (N calls of one model, seeds ``s, s+1, ...`` from an explicit ``seed``, else N distinct
  random seeds), or use the model's own multi-sample output (ONE call asking for N samples; Mirelo v1.5 cannot ask
  for fewer than 2), or differ by model when ``model`` is a list (each model makes ``takes`` variants).
* At most :data:`MAX_TAKES` takes in all; every model's clip limits are checked for the segment first; the common
  arguments and ``model_options`` are validated by each model's own parameter model. All failures are
  :class:`InputError`, raised before anything is uploaded or paid.
* Each :class:`TakeCall` carries its price by the model's own rule; :func:`total_cost` is the one quote for all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from pydantic import BaseModel

from alice_mcp.data.errors import InputError
from alice_mcp.data.foley_spec import FoleyModel
from alice_mcp.data.money import usd
from alice_mcp.data.prices import PriceTable

MAX_TAKES = 4


@dataclass(frozen=True)
class TakeCall:
    """One fal call of a takes request: it returns ``samples`` takes."""

    model: FoleyModel
    settings: BaseModel
    seed: int | None
    samples: int
    billed_seconds: float
    cost_usd: float

    def payload(self, video_url: str) -> dict[str, Any]:
        return self.model.payload(self.settings, video_url)


def plan_takes(
    models: list[FoleyModel],
    takes: int,
    common: dict[str, Any],
    model_options: dict[str, Any] | None,
    clip_seconds: float,
    prices: PriceTable,
    *,
    size_bytes: int | None = None,
    suffix: str | None = None,
    others: Sequence[FoleyModel] = (),
) -> list[TakeCall]:
    """The calls that make ``takes`` variants per model of the ``clip_seconds`` segment (see the module contract)."""
    if not isinstance(takes, int) or isinstance(takes, bool) or not 1 <= takes <= MAX_TAKES:
        raise InputError(f"`takes` must be 1 to {MAX_TAKES}; got {takes!r}.")
    if len(models) * takes > MAX_TAKES:
        raise InputError(
            f"{len(models)} models x {takes} takes = {len(models) * takes} takes; at most {MAX_TAKES} in all."
        )
    for model in models:
        model.check_clip(clip_seconds, size_bytes, suffix, others)
    calls: list[TakeCall] = []
    for model in models:
        own = common
        if len(models) > 1 and model.seed_range is None:  # comparing models: the seed goes to those that take one
            own = {k: v for k, v in common.items() if k != "seed"}
        calls.extend(_calls_for(model, takes, own, model_options, clip_seconds, prices, others))
    return calls


def _calls_for(
    model: FoleyModel,
    takes: int,
    common: dict[str, Any],
    model_options: dict[str, Any] | None,
    clip_seconds: float,
    prices: PriceTable,
    others: Sequence[FoleyModel] = (),
) -> list[TakeCall]:
    options = dict(model_options or {})
    given_seed = common.get("seed")
    if model.samples_field:
        if model.samples_field not in options:
            options[model.samples_field] = max(takes, min_samples(model))
        if given_seed is None and model.seed_range is not None:
            common = {**common, "seed": model.draw_seed()}
        return [
            _call(model, model.settings(common, options, seconds=clip_seconds, others=others), prices, clip_seconds)
        ]
    seeds = _seeds(model, takes, given_seed, others)
    return [
        _call(
            model,
            model.settings({**common, "seed": seed}, options, seconds=clip_seconds, others=others),
            prices,
            clip_seconds,
        )
        for seed in seeds
    ]


def min_samples(model: FoleyModel) -> int:
    """The fewest samples the model returns per call (1 for a single-sample model; Mirelo v1.5: 2)."""
    if not model.samples_field:
        return 1
    field = model.params.model_fields[model.samples_field]  # type: ignore[index]
    return int(next((m.ge for m in field.metadata if hasattr(m, "ge")), 1))


def _seeds(model: FoleyModel, takes: int, given: int | None, others: Sequence[FoleyModel]) -> list[int | None]:
    if model.seed_range is None:
        if given is not None:
            model.settings({"seed": given}, others=others)  # raises: this model takes no seed
        return [None] * takes
    if given is not None:
        low, high = model.seed_range
        return [low + (given - low + k) % (high - low + 1) for k in range(takes)]
    seeds: list[int | None] = []
    while len(seeds) < takes:
        seed = model.draw_seed()
        if seed not in seeds:
            seeds.append(seed)
    return seeds


def _call(model: FoleyModel, settings: BaseModel, prices: PriceTable, clip_seconds: float) -> TakeCall:
    seconds = model.billed_seconds(settings, clip_seconds)
    samples = model.samples(settings)
    return TakeCall(
        model=model,
        settings=settings,
        seed=model.seed_of(settings),
        samples=samples,
        billed_seconds=seconds,
        cost_usd=prices.cost(model.id, seconds, samples=samples),
    )


def total_cost(calls: list[TakeCall]) -> float:
    """The one quote for every call of a takes request."""
    return round(sum(c.cost_usd for c in calls), 6)


def take_count(calls: list[TakeCall]) -> int:
    return sum(c.samples for c in calls)


#: One model's share of a whole made of many calls (a soundtrack's windows and cues, maybe several takes):
#: ``(model alias, takes, windows, cues, USD of all its takes)``.
ModelShare = tuple[str, int, int, int, float]


def whole_formula(shares: list[ModelShare]) -> str:
    """How a whole's cost multiplies, per model: takes x (windows + cues) = calls, and the sum (for quotes)."""
    lines = [
        f"{alias}: {takes} take(s) x ({windows} windows + {cues} cues) = {takes * (windows + cues)} calls, {usd(cost)}"
        for alias, takes, windows, cues, cost in shares
    ]
    return "; ".join(lines) + f"; in all {usd(round(sum(s[4] for s in shares), 6))}"

"""Takes of a soundtrack of any length: each take is a WHOLE alternative soundtrack (every window and cue), made by
one model (``model`` may list several: each makes ``takes`` soundtracks).

Contract of :func:`run_soundtrack_takes`:

* Variants differ by seed (an explicit ``seed`` gives ``s, s+1, ...``; else distinct random seeds; a model without
  a seed makes its takes from the same request) or by model.
* Every take is planned and priced first (each one's windows sized by its own model's limits), nothing paid; the
  whole is authorized ONCE (spend limits and the user's approval see the sum of every take), with a note that says
  how the cost multiplies: takes x (windows + cues), per model.
* Each take is an ordinary soundtrack job (one job of many parts, resumed after a restart without paying twice); the
  later takes are recorded as parts of the first (ledger ``parent_id``). A take whose explicit seed was made before
  is a free cache hit; ``force`` makes every take again.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from alice_mcp.data import params
from alice_mcp.data.errors import InputError
from alice_mcp.data.money import usd
from alice_mcp.data.progress import ProgressSink, notify
from alice_mcp.engine.models import TakeInfo, VideoAudioRequest, VideoAudioResult
from alice_mcp.engine.planning import PreparedJob
from alice_mcp.engine.recipes.foley import start_all
from alice_mcp.engine.takes import MAX_TAKES, ModelShare, whole_formula

if TYPE_CHECKING:
    from alice_mcp.adapters.ledger import JobRecord
    from alice_mcp.engine.recipes.soundtrack import SoundtrackRecipe
    from alice_mcp.engine.spend import ConfirmSpend


def take_seeds(recipe: SoundtrackRecipe, takes: int, given: Optional[int]) -> list[Optional[int]]:
    """The seed of each take of ``recipe``'s model: ``given, given+1, ...`` (wrapped into the model's range), else
    distinct random seeds; ``None`` each for a model without a seed."""
    spec = recipe.spec
    if spec.seed_range is None:
        if given is not None:
            raise InputError(f"Model {spec.alias} takes no `seed`; leave it out (its takes differ on their own).")
        return [None] * takes
    low, high = spec.seed_range
    low = max(low, 0)
    high = min(high, params.SEED_MAX)
    if given is not None:
        return [low + (given - low + k) % (high - low + 1) for k in range(takes)]
    seeds: list[Optional[int]] = []
    while len(seeds) < takes:
        seed = spec.draw_seed()
        if seed is not None and low <= seed <= high and seed not in seeds:
            seeds.append(seed)
    return seeds


def _take_request(
    request: VideoAudioRequest, recipe: SoundtrackRecipe, seed: Optional[int], number: int
) -> VideoAudioRequest:
    """One take's own request: its seed (none for a model without one), and (after the first) its own output name."""
    values = dict(request.values)
    if seed is not None:
        values["seed"] = seed
    elif recipe.spec.seed_range is None:
        values.pop("seed", None)
    output = request.output_path
    if output and number > 1:
        given = Path(output)
        output = str(given.with_name(f"{given.stem}-take{number}{given.suffix}"))
    return request.model_copy(update={"values": values, "output_path": output, "takes": 1})


def model_shares(planned: list[tuple[SoundtrackRecipe, PreparedJob]], takes: int) -> list[ModelShare]:
    """Each model's share of the planned takes."""
    shares: list[ModelShare] = []
    for recipe in dict.fromkeys(r for r, _ in planned):
        mine = [p for r, p in planned if r is recipe]
        layout = mine[0].plan.details["soundtrack"]
        cost = round(sum(p.plan.cost_usd for p in mine), 6)
        shares.append((recipe.spec.alias, takes, len(layout["windows"]), len(layout["cues"]), cost))
    return shares


async def plan_soundtrack_takes(
    core: Any,
    recipes: list[SoundtrackRecipe],
    request: VideoAudioRequest,
    progress: ProgressSink | None,
    *,
    force: bool,
) -> list[tuple[SoundtrackRecipe, PreparedJob]]:
    """Every take of every model planned and priced (nothing paid); :class:`InputError` for anything a model
    cannot do."""
    if not isinstance(request.takes, int) or not 1 <= request.takes <= MAX_TAKES:
        raise InputError(f"`takes` must be 1 to {MAX_TAKES}; got {request.takes!r}.")
    if len(recipes) * request.takes > MAX_TAKES:
        raise InputError(
            f"{len(recipes)} models x {request.takes} takes = {len(recipes) * request.takes} takes; "
            f"at most {MAX_TAKES} in all."
        )
    planned: list[tuple[SoundtrackRecipe, PreparedJob]] = []
    given = request.values.get("seed")
    number = 0
    for recipe in recipes:
        seed_given = given if recipe.spec.seed_range is not None or len(recipes) == 1 else None
        for seed in take_seeds(recipe, request.takes, seed_given):
            number += 1
            take = _take_request(request, recipe, seed, number)
            await notify(progress, "checking", f"Planning take {number} ({recipe.spec.alias})")
            prepared = await recipe.prepare(core.services, core.jobs, take, None, force=force)
            planned.append((recipe, prepared))
    return planned


async def run_soundtrack_takes(
    core: Any,
    recipes: list[SoundtrackRecipe],
    request: VideoAudioRequest,
    progress: ProgressSink | None,
    *,
    started: float,
    wait_seconds: float | None,
    force: bool,
    confirm: ConfirmSpend | None,
) -> VideoAudioResult:
    """Plan every take (see the module contract), authorize the whole once, start every take's soundtrack job and
    report them: the first take's result, with ``takes`` listing all of them. ``core`` is the
    :class:`~alice_mcp.engine.core.AliceCore`."""
    planned = await plan_soundtrack_takes(core, recipes, request, progress, force=force)
    formula = whole_formula(model_shares(planned, request.takes))
    sentence = f"Each take is a whole soundtrack. {formula}."
    to_pay = [p for _, p in planned if p.cached is None]
    if to_pay:
        total = round(sum(p.plan.cost_usd for p in to_pay), 6)
        paid = formula if len(to_pay) == len(planned) else f"{len(to_pay)} takes not made before = {usd(total)}"
        await core.spend.authorize(to_pay[0].plan.endpoint.id, total, confirm, None, paid)
    records = await start_all(core, [(None, p) for _, p in planned], progress, wait_seconds, started)
    cached = [p.cached is not None for _, p in planned]
    first = recipes[0]
    result: VideoAudioResult = first.result(records[0], core.jobs, started, cached=cached[0])
    result.model = first.spec.alias
    result.takes = [_take_info(r, recipe, was) for r, (recipe, _), was in zip(records, planned, cached, strict=True)]
    result.cost_usd = round(sum(t.cost_usd for t in result.takes), 6)
    result.notes = [*result.notes, sentence]
    return result


def _take_info(record: JobRecord, recipe: SoundtrackRecipe, cached: bool) -> TakeInfo:
    from alice_mcp.adapters.ledger import COMPLETED

    done = record.status == COMPLETED
    cost = 0.0 if cached else record.cost_usd
    return TakeInfo(
        output_path=record.output_path if done else None,
        seed=record.settings.get("seed"),
        model=recipe.spec.alias,
        endpoint=recipe.endpoint.id,
        cost_usd=cost if not math.isclose(cost, 0.0) else 0.0,
        url=None,
        kind="video",
        job_id=record.id,
        cached=cached,
        status="completed" if done else "running",
    )

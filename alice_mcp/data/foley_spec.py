"""What a video-to-audio ("foley") model is, as data: :class:`FoleyModel`, its clip limits, and the mapping of the
common arguments onto its own fal field names.

Contract
--------
* A model's **parameter model** (pydantic, ``extra="forbid"``) has exactly the fal endpoint's input fields except
  ``video_url``, under fal's own names, with fal's ranges (foley-models reference §2). Where fal's default is a trap
  (Kling's demo prompts) the parameter model's default is what alice-mcp sends instead.
* :meth:`FoleyModel.settings` merges, in order: the model's ``fixed`` values, the COMMON arguments (``prompt``,
  ``negative_prompt``, ``seed``, ``duration``, ``num_steps``, ``cfg_strength``) renamed through ``common``, and the
  ``model_options`` (keys = the model's own fal field names, minus the ones a common argument already sets). Every
  refusal is an :class:`InputError` that names the argument and what to do, raised before anything is uploaded.
* ``others`` (the registry's models) only word the advice in errors: who takes the argument or the clip.
* :meth:`FoleyModel.check_clip` enforces the model's per-call limits on the segment to be sent; the error names the
  limit and suggests models that take the clip, or a ``start_time``/``duration`` segment.
* :meth:`FoleyModel.payload` is the exact JSON body: ``video_url`` + the settings, ``None`` fields left out.
* :meth:`FoleyModel.files` normalises fal's output (one ``File``, a list, or ``audio`` + ``audios``) into the list of
  generated file URLs, one per sample.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

from pydantic import BaseModel, ValidationError

from alice_mcp.data.endpoints import Endpoint
from alice_mcp.data.errors import InputError
from alice_mcp.data.params import describe_validation_error

#: the arguments every model understands (under its own field names, when it has that control at all)
COMMON_ARGS = ("prompt", "negative_prompt", "seed", "duration", "num_steps", "cfg_strength")


@dataclass(frozen=True)
class ClipLimits:
    """Per-call limits on the clip (segment) sent to the model. ``verified`` is False when fal does not state them
    (the numbers are then alice-mcp's conservative choice, said in ``note``)."""

    min_seconds: float = 1.0
    max_seconds: float = 30.0
    max_bytes: int | None = None
    containers: tuple[str, ...] = ()  # accepted file kinds, by suffix ("mp4", "mov"); () = any video
    verified: bool = True
    note: str = ""

    def describe(self) -> str:
        parts = [f"{self.min_seconds:g}-{self.max_seconds:g} s per call"]
        if self.max_bytes:
            parts.append(f"<= {self.max_bytes // (1024 * 1024)} MB")
        if self.containers:
            parts.append("/".join(self.containers) + " only")
        text = ", ".join(parts)
        return text if self.verified else f"{text} ({self.note or 'unverified'})"


@dataclass(frozen=True)
class FoleyModel:
    """One video-to-audio model: its endpoint (id, aliases, price, output key), parameter model and rules."""

    endpoint: Endpoint
    params: type[BaseModel]
    best_at: str  # one line, from the evidence in the reference
    common: dict[str, str]  # common argument -> the model's fal field name
    limits: ClipLimits
    output_kind: Literal["video", "audio"]  # the generated file: a video with the track muxed in, or audio alone
    samples_field: str | None = None  # fal field asking for several samples in one call (multi-sample output)
    seed_range: tuple[int, int] | None = None  # None: the model takes no seed
    duration_field: str | None = None  # fal field holding the seconds to generate (None: the whole clip is used)
    fixed: dict[str, Any] = field(default_factory=dict)  # values alice-mcp always sends unless overridden
    unverified: tuple[str, ...] = ()  # what the reference could not confirm about this model

    @property
    def id(self) -> str:
        return self.endpoint.id

    @property
    def alias(self) -> str:
        return self.endpoint.aliases[0] if self.endpoint.aliases else self.endpoint.id

    def option_names(self) -> list[str]:
        """The ``model_options`` keys this model takes: its fal fields no common argument sets."""
        taken = set(self.common.values()) | ({self.duration_field} if self.duration_field else set())
        return [name for name in self.params.model_fields if name not in taken]

    def draw_seed(self) -> int | None:
        if self.seed_range is None:
            return None
        low, high = self.seed_range
        return low + secrets.randbelow(high - low + 1)

    def settings(
        self,
        common: dict[str, Any],
        model_options: dict[str, Any] | None = None,
        *,
        seconds: float | None = None,
        others: Sequence[FoleyModel] = (),
    ) -> BaseModel:
        """The validated parameter model for one call (see the module contract). ``seconds`` fills the duration
        field, if the model has one and ``duration`` was not given."""
        given = {k: v for k, v in common.items() if v is not None}
        unknown = sorted(set(given) - set(COMMON_ARGS))
        if unknown:
            raise InputError(f"Unknown argument(s) {', '.join(unknown)} for model {self.alias}.")
        lacking = sorted(k for k in given if k not in self.common and not (k == "duration" and self.duration_field))
        if lacking:
            takers = ", ".join(m.alias for m in others if all(k in m.common for k in lacking)) or "none"
            raise InputError(
                f"Model {self.alias} has no {' / '.join('`' + k + '`' for k in lacking)} control "
                f"(models that take it: {takers}). Leave it out, or pick one of those models."
            )
        options = dict(model_options or {})
        allowed = self.option_names()
        bad = [k for k in options if k not in allowed]
        if bad:
            hint = {v: k for k, v in self.common.items()}
            why = "; ".join(
                f"`{k}` is set by the common argument `{hint[k]}`"
                if k in hint
                else f"`{k}` is not a field of {self.id}"
                for k in bad
            )
            raise InputError(
                f"model_options for {self.alias}: {why}. Its model_options are: {', '.join(allowed) or 'none'}."
            )
        merged: dict[str, Any] = dict(self.fixed)
        merged.update({self.common[k]: v for k, v in given.items() if k in self.common})
        if self.duration_field:
            duration = given.get("duration", seconds)
            if duration is not None:
                merged[self.duration_field] = round(float(duration), 3)
        merged.update(options)
        try:
            return self.params(**merged)
        except ValidationError as exc:
            message = describe_validation_error(exc, self.params).replace("Invalid parameters", self.alias)
            renamed = {self.common[k]: k for k in given if k in self.common and self.common[k] != k}
            named = [
                f"`{fal}` is {self.alias}'s name for `{arg}`" for fal, arg in renamed.items() if f"`{fal}`" in message
            ]
            raise InputError(message + (" (" + "; ".join(named) + ")" if named else "")) from None

    def samples(self, settings: BaseModel) -> int:
        """How many samples one call returns."""
        return int(getattr(settings, self.samples_field)) if self.samples_field else 1

    def seed_of(self, settings: BaseModel) -> int | None:
        return getattr(settings, self.common["seed"]) if "seed" in self.common else None

    def billed_seconds(self, settings: BaseModel, clip_seconds: float) -> float:
        """The seconds the price rule charges for: the requested duration, else the clip's length."""
        if self.duration_field:
            return float(getattr(settings, self.duration_field))
        return clip_seconds

    def payload(self, settings: BaseModel, video_url: str) -> dict[str, Any]:
        return {"video_url": video_url, **settings.model_dump(exclude_none=True)}

    def check_clip(
        self,
        seconds: float,
        size_bytes: int | None = None,
        suffix: str | None = None,
        others: Sequence[FoleyModel] = (),
    ) -> None:
        """Refuse a segment this model cannot take in one call (before anything is uploaded or paid)."""
        lim = self.limits
        problem = None
        if seconds > lim.max_seconds + 1e-3:
            problem = f"takes at most {lim.max_seconds:g} s per call; this segment is {seconds:.2f} s"
        elif seconds < lim.min_seconds - 1e-3:
            problem = f"needs at least {lim.min_seconds:g} s; this segment is {seconds:.2f} s"
        elif lim.max_bytes and size_bytes and size_bytes > lim.max_bytes:
            problem = (
                f"takes files up to {lim.max_bytes // (1024 * 1024)} MB; this one is {size_bytes / 1048576:.0f} MB"
            )
        elif lim.containers and suffix and suffix.lower().lstrip(".") not in lim.containers:
            problem = f"takes only {'/'.join(lim.containers)} files; this one is {suffix}"
        if problem is None:
            return
        fits = [
            m.alias
            for m in others
            if m is not self and m.limits.min_seconds - 1e-3 <= seconds <= m.limits.max_seconds + 1e-3
        ]
        advice = f"Pick another model that takes it ({', '.join(fits)})" if fits else "No model takes it in one call"
        raise InputError(
            f"Model {self.alias} {problem}. {advice}, or send a segment of "
            f"{lim.min_seconds:g}-{lim.max_seconds:g} s with `start_time` and `duration`."
        )

    def files(self, output: dict[str, Any]) -> list[str]:
        """The URLs of the generated files in fal's output, one per sample (video files when the model returns
        video, else audio files)."""
        key = self.endpoint.output_key
        value = output.get(key)
        if key == "audio" and isinstance(output.get("audios"), list) and output["audios"]:
            value = output["audios"]
        items = value if isinstance(value, list) else [value]
        urls = [str(item["url"]) for item in items if isinstance(item, dict) and item.get("url")]
        if not urls:
            raise ValueError(f"fal's result has no {key} URL: {str(output)[:200]}")
        return urls

    def describe(self) -> dict[str, Any]:
        """What ``list_models`` shows about this model."""
        return {
            "model": self.alias,
            "endpoint_id": self.id,
            "title": self.endpoint.title,
            "best_at": self.best_at,
            "limits": self.limits.describe(),
            "price": self.endpoint.price.describe(),
            "output": "video with the track (put back onto your original)"
            if self.output_kind == "video"
            else "audio track (put onto your original)",
            "multi_sample": self.samples_field is not None,
            "common_arguments": {k: v for k, v in self.common.items()},
            "model_options": self.option_names(),
            "seed": f"{self.seed_range[0]}-{self.seed_range[1]}" if self.seed_range else None,
            "unverified": list(self.unverified),
        }

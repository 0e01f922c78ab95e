"""Input schemas of the emulated endpoints and FastAPI-style 422 bodies.

Contract
--------
``validate(endpoint, payload, overrides) -> (clean_input, None)`` or
``(None, detail_list)``. Validation uses real pydantic v2 models in lax mode,
which is what fal's FastAPI-based apps run, so messages, ``type`` codes,
``ctx`` and coercions (e.g. ``"5"`` accepted for an int, ``5`` rejected for
Kling's string enum ``duration``) match fal's 422 ``detail`` entries:
``{"type","loc":["body",field],"msg","input","ctx"?}`` (no pydantic ``url``,
as FastAPI omits it).

The video-to-audio endpoints beyond MMAudio bring their schemas from :mod:`.foley`.

``overrides`` (``TwinState.schema_overrides``) tighten fields, either for
every endpoint having the field (``{"duration": {"le": 10}}``) or for one
endpoint (``{"fal-ai/mmaudio-v2": {"duration": {"le": 10}}}``). Values are
``pydantic.Field`` keyword arguments (ge/le/gt/lt/max_length/...).
"""

from __future__ import annotations

import json
from typing import Any, Literal, Optional

from pydantic import Field, ValidationError, create_model

from .foley import ENDPOINTS as FOLEY_ENDPOINTS
from .foley import REQUIRED as _REQUIRED

MMAUDIO = "fal-ai/mmaudio-v2"
TEXT_TO_AUDIO = "fal-ai/mmaudio-v2/text-to-audio"
KLING_T2V = "fal-ai/kling-video/v2.1/master/text-to-video"

_AUDIO_COMMON: dict[str, tuple[Any, dict[str, Any]]] = {
    "prompt": (str, {"default": _REQUIRED}),
    "negative_prompt": (str, {"default": ""}),
    "seed": (Optional[int], {"default": None, "ge": 0, "le": 65535}),
    "num_steps": (int, {"default": 25, "ge": 4, "le": 50}),
    "duration": (float, {"default": 8, "ge": 1, "le": 30}),
    "cfg_strength": (float, {"default": 4.5, "ge": 0, "le": 20}),
    "mask_away_clip": (bool, {"default": False}),
}

#: endpoint id -> {field: (annotation, Field kwargs)} (reference §1.1-§1.3)
SCHEMAS: dict[str, dict[str, tuple[Any, dict[str, Any]]]] = {
    MMAUDIO: {"video_url": (str, {"default": _REQUIRED}), **_AUDIO_COMMON},
    TEXT_TO_AUDIO: dict(_AUDIO_COMMON),
    KLING_T2V: {
        "prompt": (str, {"default": _REQUIRED, "max_length": 2500}),
        "duration": (Literal["5", "10"], {"default": "5"}),
        "aspect_ratio": (Literal["16:9", "9:16", "1:1"], {"default": "16:9"}),
        "negative_prompt": (str, {"default": "blur, distort, and low quality", "max_length": 2500}),
        "cfg_scale": (float, {"default": 0.5, "ge": 0, "le": 1}),
    },
    **{e.id: e.schema for e in FOLEY_ENDPOINTS.values()},
}

_model_cache: dict[tuple[str, str], type] = {}


def _field_overrides(endpoint: str, overrides: dict) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for key, value in (overrides or {}).items():
        if "/" in key:
            if key == endpoint:
                for fname, kw in value.items():
                    merged.setdefault(fname, {}).update(kw)
        else:
            merged.setdefault(key, {}).update(value)
    return {k: v for k, v in merged.items() if k in SCHEMAS[endpoint]}


def _model(endpoint: str, overrides: dict) -> type:
    fo = _field_overrides(endpoint, overrides)
    cache_key = (endpoint, json.dumps(fo, sort_keys=True, default=str))
    model = _model_cache.get(cache_key)
    if model is None:
        fields = {}
        for name, (ann, kw) in SCHEMAS[endpoint].items():
            kw = {**kw, **fo.get(name, {})}
            default = kw.pop("default")
            fields[name] = (ann, Field(... if default is _REQUIRED else default, **kw))
        model = create_model(endpoint.replace("/", "_").replace("-", "_").replace(".", "_"), **fields)
        _model_cache[cache_key] = model
    return model


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str))


def validate(endpoint: str, payload: Any, overrides: dict | None = None) -> tuple[dict | None, list | None]:
    """Validate ``payload`` (already JSON-decoded) for ``endpoint``."""
    if not isinstance(payload, dict):
        return None, [
            {
                "type": "model_attributes_type",
                "loc": ["body"],
                "msg": "Input should be a valid dictionary or object to extract fields from",
                "input": _jsonable(payload),
            }
        ]
    model = _model(endpoint, overrides or {})
    try:
        clean = model.model_validate(payload)
    except ValidationError as exc:
        detail = []
        for err in exc.errors(include_url=False):
            entry = {"type": err["type"], "loc": ["body", *err["loc"]], "msg": err["msg"], "input": err.get("input")}
            if err.get("ctx"):
                entry["ctx"] = err["ctx"]
            detail.append(_jsonable(entry))
        return None, detail
    return clean.model_dump(), None


def json_decode_error(body: bytes, exc: json.JSONDecodeError) -> list:
    """FastAPI's 422 for a body that is not JSON."""
    return [
        {
            "type": "json_invalid",
            "loc": ["body", exc.pos],
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": exc.msg},
        }
    ]

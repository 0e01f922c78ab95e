"""The parameter table is the single source of the published schemas: every range and default shows in tools/list."""

from __future__ import annotations

from alice_mcp.data.params import TABLE_FIELDS, AudioSettings, fal_payload

TABLE = {
    "duration": {"minimum": 1, "maximum": 30, "default": 8.0},
    "num_steps": {"minimum": 4, "maximum": 50, "default": 25},
    "cfg_strength": {"minimum": 0, "maximum": 20, "default": 4.5},
    "seed": {"minimum": 0, "maximum": 65535},
    "negative_prompt": {"default": ""},
    "mask_away_clip": {"default": False},
    "prompt": {"minLength": 1},
}
PIPELINE = {
    "start_time": {"minimum": 0, "default": 0.0},
    "quality": {"enum": ["draft", "balanced", "high"]},
    "audio_format": {"enum": ["none", "wav", "flac", "m4a"], "default": "none"},
    "original_audio": {"enum": ["replace", "mix", "duck"], "default": "replace"},
    "original_level": {"minimum": 0, "maximum": 2, "default": 0.5},
    "generated_level": {"minimum": 0, "maximum": 2, "default": 1.0},
    "duck_db": {"minimum": 3, "maximum": 40, "default": 12.0},
    "loudness": {"default": "none"},
    "stems": {"default": False},
    "timeline": {"enum": ["none", "otio", "fcpxml", "edl"], "default": "none"},
    "timeline_paths": {"enum": ["absolute", "relative"], "default": "absolute"},
}


def _flatten(prop: dict) -> dict:
    """Merge a property's top level with its non-null ``anyOf`` branch."""
    merged = {k: v for k, v in prop.items() if k != "anyOf"}
    for branch in prop.get("anyOf", []):
        if branch.get("type") != "null":
            merged.update(branch)
    return merged


async def test_every_range_and_default_is_published(connect) -> None:
    async with connect() as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    schema = tools["add_audio_to_video"].input_schema
    assert schema["required"] == ["video"]
    for name in TABLE_FIELDS:
        prop = _flatten(schema["properties"][name])
        for key, value in TABLE[name].items():
            if (name, key) == ("duration", "default"):
                continue  # for a video, an omitted duration means the clip's length (checked below)
            assert prop.get(key) == value, f"{name}.{key}: {prop}"
        assert prop.get("description"), name
    video_duration = _flatten(schema["properties"]["duration"])
    assert video_duration.get("default") is None and "clip's length" in video_duration["description"]
    text_duration = _flatten(tools["generate_audio"].input_schema["properties"]["duration"])
    assert text_duration["default"] == 8.0
    for name, expected in PIPELINE.items():
        prop = _flatten(schema["properties"][name])
        for key, value in expected.items():
            assert prop.get(key) == value, f"{name}.{key}: {prop}"
        assert prop.get("description"), name
    assert "10" in _flatten(schema["properties"]["quality"])["description"]  # the steps of each tier are documented
    estimate = tools["estimate_cost"].input_schema["properties"]["duration"]
    assert _flatten(estimate)["maximum"] == 30 and _flatten(estimate)["minimum"] == 1


async def test_annotations_and_output_schemas(connect) -> None:
    async with connect() as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    paid = tools["add_audio_to_video"]
    assert paid.annotations.read_only_hint is False
    assert paid.annotations.destructive_hint is False
    assert paid.annotations.idempotent_hint is False
    assert paid.annotations.open_world_hint is True
    assert "money" in paid.description.lower() or "cost" in paid.description.lower()
    for name in ("list_audio_presets", "estimate_cost"):
        assert tools[name].annotations.read_only_hint is True
        assert tools[name].annotations.open_world_hint is False
    out = paid.output_schema["properties"]
    for field in (
        "output_path",
        "video_url",
        "request_id",
        "seed",
        "duration",
        "num_steps",
        "cfg_strength",
        "prompt",
        "negative_prompt",
        "cost_usd",
        "elapsed_s",
    ):
        assert field in out, field


def test_fal_payload_is_derived_from_the_table() -> None:
    settings = AudioSettings(prompt="rain", seed=7)
    body = fal_payload(settings, video_url="https://x.test/a.mp4")
    assert body == {
        "prompt": "rain",
        "negative_prompt": "",
        "duration": 8.0,
        "num_steps": 25,
        "cfg_strength": 4.5,
        "seed": 7,
        "mask_away_clip": False,
        "video_url": "https://x.test/a.mp4",
    }
    assert "seed" not in fal_payload(AudioSettings(prompt="rain"))

"""What may be written: only inside ALICE_OUTPUT_DIR, never over an existing file, a clear error before paying when
the folder is not writable, and a host's unsubstituted placeholder is ignored rather than created as a folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import files_in


async def _add(connect, clip, **args):  # type: ignore[no-untyped-def]
    async with connect() as client:
        return await client.call_tool(
            "add_audio_to_video", {"video": str(clip()), "prompt": "x", "duration": 1, **args}
        )


def _refused_before_paying(result, twin) -> str:  # type: ignore[no-untyped-def]
    assert result.is_error is True, result.structured_content
    assert twin.state.uploads == [] and twin.state.submit_count() == 0
    return result.content[0].text


@pytest.mark.parametrize("form", ["absolute", "dotdot", "prefix_sibling", "symlink_out"])
async def test_output_path_outside_the_folder_is_refused(connect, clip, twin, output_dir, tmp_path, form) -> None:
    output_dir.mkdir()
    escape = tmp_path / "elsewhere"
    escape.mkdir()
    (output_dir / "link").symlink_to(escape)
    output_path = {
        "absolute": str(escape / "x.mp4"),
        "dotdot": "../elsewhere/x.mp4",
        "prefix_sibling": f"../{output_dir.name}-evil/x.mp4",
        "symlink_out": "link/x.mp4",
    }[form]
    text = _refused_before_paying(await _add(connect, clip, output_path=output_path), twin)
    assert "outside the output folder" in text and "ALICE_OUTPUT_DIR" in text
    assert list(escape.iterdir()) == []


@pytest.mark.parametrize("output_path", [".", "./", "takes/"])
async def test_a_folder_as_output_path_keeps_the_result_inside(connect, clip, twin, output_dir, output_path) -> None:
    (output_dir / "takes").mkdir(parents=True)
    result = await _add(connect, clip, output_path=output_path)
    assert result.is_error is False, result.content[0].text
    out = Path(result.structured_content["output_path"])
    assert output_dir.resolve() in out.parents and out.exists()
    assert not any(p.suffix == ".mp4" for p in output_dir.parent.iterdir())  # nothing next to the folder


async def test_hidden_output_names_are_refused(connect, clip, twin) -> None:
    assert "hidden" in _refused_before_paying(await _add(connect, clip, output_path=".x.mp4"), twin)


async def test_existing_files_are_never_overwritten(connect, clip, twin, output_dir) -> None:
    output_dir.mkdir()
    mine = output_dir / "final.mp4"
    mine.write_bytes(b"my own edit")
    first = await _add(connect, clip, output_path="final.mp4")
    second = await _add(connect, clip, output_path="final.mp4")
    assert first.is_error is False and second.is_error is False
    assert mine.read_bytes() == b"my own edit"
    assert files_in(output_dir) == ["final-2.mp4", "final-3.mp4", "final.mp4"]


async def test_a_dangling_symlink_in_the_folder_is_not_followed(connect, clip, twin, output_dir, tmp_path) -> None:
    output_dir.mkdir()
    target = tmp_path / "victim.mp4"
    (output_dir / "result.mp4").symlink_to(output_dir / "gone.mp4")  # dangling, inside
    (output_dir / "trap.mp4").symlink_to(target)  # dangling, outside
    text = _refused_before_paying(await _add(connect, clip, output_path="trap.mp4"), twin)
    assert "outside the output folder" in text and not target.exists()
    ok = await _add(connect, clip, output_path="result.mp4")
    assert ok.is_error is False, ok.content[0].text
    assert Path(ok.structured_content["output_path"]).name == "gone.mp4"


async def test_unwritable_folder_is_reported_before_paying(connect, clip, twin, monkeypatch) -> None:
    target = "/sys/alice-mcp-out"
    if os.access("/sys", os.W_OK) and not os.path.ismount("/sys"):
        pytest.skip("/sys is writable here")
    monkeypatch.setenv("ALICE_OUTPUT_DIR", target)
    text = _refused_before_paying(await _add(connect, clip), twin)
    assert f"The output folder {target} is not writable" in text and "ALICE_OUTPUT_DIR" in text


async def test_unsubstituted_placeholder_is_ignored_not_created(
    connect, clip, twin, home, tmp_path, monkeypatch, caplog
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALICE_OUTPUT_DIR", "${user_config.output_dir}")
    monkeypatch.setenv("ALICE_ALLOWED_DIRS", "${user_config.allowed_dirs}")
    result = await _add(connect, clip)
    assert result.is_error is False, result.content[0].text
    out = Path(result.structured_content["output_path"])
    assert out.parent == (home / "Videos" / "alice-mcp").resolve()
    assert not any("$" in str(p) for p in tmp_path.rglob("*"))
    assert "unsubstituted host placeholder" in caplog.text


async def test_upload_carries_the_configured_expiry(connect, clip, twin, monkeypatch) -> None:
    for ttl, seconds, length in (("1d", 86400, 2.0), ("1h", 3600, 1.5)):  # new content: no upload reuse
        twin.reset()
        monkeypatch.setenv("ALICE_UPLOAD_TTL", ttl)
        result = await _add(connect, lambda ttl=ttl, length=length: clip(f"ttl-{ttl}.mp4", seconds=length))
        assert result.is_error is False, result.content[0].text
        lifecycle = twin.state.uploads[0].lifecycle
        assert lifecycle is not None and lifecycle.get("expiration_duration_seconds") == seconds

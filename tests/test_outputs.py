"""Results are published atomically, never overwrite, and leave nothing behind on failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from alice_mcp.adapters.output_policy import partial_file, publish, target_path
from alice_mcp.data.errors import InputError


def test_publish_never_overwrites(tmp_path: Path) -> None:
    wanted = tmp_path / "a.mp4"
    wanted.write_bytes(b"old")
    for content in (b"new1", b"new2"):
        with partial_file(tmp_path, ".mp4") as temp:
            temp.write_bytes(content)
            publish(temp, wanted)
    assert wanted.read_bytes() == b"old"
    assert (tmp_path / "a-2.mp4").read_bytes() == b"new1"
    assert (tmp_path / "a-3.mp4").read_bytes() == b"new2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-2.mp4", "a-3.mp4", "a.mp4"]


def test_partial_file_is_removed_on_failure(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        with partial_file(tmp_path, ".mp4") as temp:
            temp.write_bytes(b"half")
            raise RuntimeError("download broke")
    assert list(tmp_path.iterdir()) == []


def test_target_path_stays_inside(tmp_path: Path) -> None:
    folder = tmp_path.resolve()
    assert target_path(folder, "sub/x", "d.mp4") == folder / "sub" / "x.mp4"
    with pytest.raises(InputError):
        target_path(folder, "../escape.mp4", "d.mp4")

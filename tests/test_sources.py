"""Parsing the `video` argument: URLs, file URIs (Windows forms too), Windows paths, refusals."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from alice_mcp.adapters.read_policy import ReadPolicy
from alice_mcp.adapters.sources import RemoteVideo, file_uri_to_path, parse_video_argument, resolve_video
from alice_mcp.data.errors import InputError


@pytest.mark.parametrize(
    "uri, expected",
    [
        ("file:///home/me/a.mp4", "/home/me/a.mp4"),
        ("file://localhost/home/me/a%20b.mp4", "/home/me/a b.mp4"),
        ("file:///C:/Users/me/a.mp4", "C:/Users/me/a.mp4"),
        ("file:///c%3A/Users/me/a.mp4", "c:/Users/me/a.mp4"),
        ("file://server/share/a.mp4", "//server/share/a.mp4"),
    ],
)
def test_file_uris(uri: str, expected: str) -> None:
    assert PurePosixPath(file_uri_to_path(uri).as_posix()) == PurePosixPath(expected)


@pytest.mark.parametrize("text", ["C:\\Users\\me\\a.mp4", "C:/Users/me/a.mp4"])
def test_windows_paths_are_local_paths(text: str) -> None:
    parsed = parse_video_argument(text)
    assert isinstance(parsed, Path) and parsed.as_posix().endswith("Users/me/a.mp4")


def test_https_is_remote() -> None:
    assert parse_video_argument(" https://cdn.test/a.mp4 ") == RemoteVideo("https://cdn.test/a.mp4")


@pytest.mark.parametrize("bad", ["", "   ", "https://", "javascript:alert(1)", "s3://bucket/a.mp4", "a\x00b"])
def test_refusals(bad: str) -> None:
    with pytest.raises(InputError):
        resolve_video(bad)


def test_symlinks_are_resolved(tmp_path: Path) -> None:
    target = tmp_path / "real.mp4"
    target.write_bytes(b"x")
    link = tmp_path / "link.mp4"
    link.symlink_to(target)
    assert resolve_video(str(link), ReadPolicy(allowed=(tmp_path.resolve(),))).path == target.resolve()

"""Where alice-mcp may read: a refused path is never opened, hashed or uploaded, and the error says what to change.

Through the MCP wire (both eras) against the fal twin; every refusal asserts the twin received nothing.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest
from mcp.types import ListRootsResult, Root

from alice_mcp.adapters.read_policy import ReadPolicy, is_inside, roots_to_paths
from alice_mcp.data.errors import InputError
from tests.conftest import files_in


async def _add(connect, video: str, **kwargs):  # type: ignore[no-untyped-def]
    async with connect(**kwargs) as client:
        return await client.call_tool("add_audio_to_video", {"video": video, "prompt": "x", "duration": 1})


def _refused(result, twin) -> str:  # type: ignore[no-untyped-def]
    assert result.is_error is True, result.structured_content
    assert twin.state.uploads == [] and twin.state.submit_count() == 0 and twin.state.uploaded_bytes() == 0
    return result.content[0].text


@pytest.fixture
def outside(tmp_path: Path, clip) -> Path:  # type: ignore[no-untyped-def]
    """A real clip outside the home folder (and outside every allowed folder)."""
    folder = tmp_path / "outside"
    folder.mkdir()
    return Path(shutil.copy(clip("source.mp4"), folder / "clip.mp4"))


# ------------------------------------------------------------------------------------------------ hidden folders
@pytest.mark.parametrize("hidden", [".ssh/id_rsa", ".aws/credentials", ".config/app/clip.mp4", ".bash_history"])
async def test_hidden_files_and_folders_under_home_are_refused(connect, home, twin, hidden) -> None:
    secret = home / hidden
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text("-----BEGIN OPENSSH PRIVATE KEY-----")
    text = _refused(await _add(connect, str(secret)), twin)
    assert "hidden" in text and hidden.split("/")[0] in text


async def test_a_hidden_fifo_is_refused_without_being_opened(connect, home, twin) -> None:
    # Opening a FIFO for reading blocks until a writer appears: answering at all proves it was never opened.
    (home / ".ssh").mkdir()
    fifo = home / ".ssh" / "agent.mp4"
    os.mkfifo(fifo)
    assert "hidden" in _refused(await _add(connect, str(fifo)), twin)


async def test_near_match_suggestions_never_show_hidden_files(connect, home, twin) -> None:
    (home / ".id_rsa.mp4").write_text("secret")
    text = _refused(await _add(connect, str(home / "id_rsa.mp4")), twin)
    assert "not found" in text.lower() and ".id_rsa" not in text


# ----------------------------------------------------------------------------------- outside the allowed folders
async def test_absolute_path_outside_is_refused_and_names_the_setting(connect, home, outside, twin) -> None:
    text = _refused(await _add(connect, str(outside)), twin)
    assert str(outside) in text and str(home) in text and "ALICE_ALLOWED_DIRS" in text


@pytest.mark.parametrize("form", ["dotdot", "tilde", "file_uri_encoded"])
async def test_traversal_is_resolved_before_the_check(connect, home, outside, twin, form) -> None:
    (home / "clips").mkdir(exist_ok=True)
    video = {
        "dotdot": f"{home}/clips/../../outside/clip.mp4",
        "tilde": "~/../outside/clip.mp4",
        "file_uri_encoded": f"file://{home}/clips/%2e%2e/%2e%2e/outside/clip.mp4",
    }[form]
    text = _refused(await _add(connect, video), twin)
    assert str(outside) in text and "outside the folders" in text


async def test_symlink_escaping_home_is_refused(connect, home, outside, twin) -> None:
    link = home / "innocent.mp4"
    link.symlink_to(outside)
    text = _refused(await _add(connect, str(link)), twin)
    assert f"resolves to {outside}" in text


async def test_symlink_into_a_hidden_folder_is_refused(connect, home, twin) -> None:
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_ed25519").write_text("key")
    (home / "holiday.mp4").symlink_to(home / ".ssh" / "id_ed25519")
    assert "hidden" in _refused(await _add(connect, str(home / "holiday.mp4")), twin)


@pytest.mark.parametrize("folder", ["Library", "AppData"])
async def test_app_data_folders_under_home_are_refused_by_default(connect, home, clip, twin, folder) -> None:
    target = home / folder / "Cookies" / "clip.mp4"
    target.parent.mkdir(parents=True)
    shutil.copy(clip(), target)
    assert "application data" in _refused(await _add(connect, str(target)), twin)


async def test_the_servers_data_folder_is_refused(connect, home, clip, twin, monkeypatch) -> None:
    data = home / "alice-data"
    data.mkdir()
    monkeypatch.setenv("ALICE_DATA_DIR", str(data))
    ledger = Path(shutil.copy(clip(), data / "ledger.mp4"))
    assert "application data" in _refused(await _add(connect, str(ledger)), twin)


# ------------------------------------------------------------------------------------------- Windows strings
@pytest.mark.parametrize(
    "video",
    [
        "C:\\Users\\me\\.ssh\\id_rsa",
        "C:/Users/me/clip.mp4",
        "file:///C:/Users/me/clip.mp4",
        "file:///c%3A/Users/me/clip.mp4",
        "\\\\server\\share\\clip.mp4",
    ],
)
@pytest.mark.skipif(os.name == "nt", reason="Windows strings are foreign paths only on POSIX")
async def test_windows_strings_are_refused_clearly(connect, twin, video) -> None:
    assert "is a Windows path, but this server runs on" in _refused(await _add(connect, video), twin)


async def test_unc_file_uri_is_outside_the_allowed_folders(connect, twin) -> None:
    assert "outside the folders it may read" in _refused(await _add(connect, "file://server/share/clip.mp4"), twin)


def test_windows_root_uris_parse_to_drive_paths() -> None:
    paths = roots_to_paths(["file:///C:/Users/me/Videos", "file:///c%3A/Users/me/Clips", "https://example.com/x"])
    assert [p.as_posix() for p in paths] == ["C:/Users/me/Videos", "c:/Users/me/Clips"]


# ----------------------------------------------------------------------------------------- not regular files
async def test_device_files_are_refused_even_in_an_allowed_folder(connect, twin, monkeypatch) -> None:
    monkeypatch.setenv("ALICE_ALLOWED_DIRS", "/dev")
    assert "not a regular file" in _refused(await _add(connect, "/dev/zero"), twin)


async def test_symlink_to_a_device_is_refused(connect, home, twin) -> None:
    (home / "zero.mp4").symlink_to("/dev/urandom")
    assert "outside the folders" in _refused(await _add(connect, str(home / "zero.mp4")), twin)


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs Unix sockets")
async def test_sockets_are_refused(connect, home, twin, tmp_path) -> None:
    path = home / "s.mp4"
    if len(str(path)) > 100:  # AF_UNIX path limit
        pytest.skip("temporary path too long for a Unix socket")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    try:
        assert "not a regular file" in _refused(await _add(connect, str(path)), twin)
    finally:
        server.close()


# ---------------------------------------------------------------------------------------- second gate: content
@pytest.mark.parametrize(
    "content", [b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA\n", b"", b"\x00" * 4096]
)
async def test_content_that_is_not_video_is_never_uploaded(connect, home, twin, content) -> None:
    disguised = home / "holiday.mp4"
    disguised.write_bytes(content)
    text = _refused(await _add(connect, str(disguised)), twin)
    assert str(disguised) in text or "video" in text.lower()


# ------------------------------------------------------------------------------------------------- size cap
async def test_inputs_over_the_size_cap_are_refused(connect, home, twin, monkeypatch) -> None:
    monkeypatch.setenv("ALICE_MAX_INPUT_MB", "1")
    big = home / "big.mp4"
    with open(big, "wb") as f:  # sparse: 3 MB on paper, nothing on disk
        f.truncate(3 * 1024 * 1024)
    text = _refused(await _add(connect, str(big)), twin)
    assert "3 MB" in text and "1 MB" in text and "ALICE_MAX_INPUT_MB" in text


# --------------------------------------------------------------------------------------- what IS allowed
async def test_allowed_dirs_setting_replaces_home(connect, home, tmp_path, clip, twin, monkeypatch, output_dir) -> None:
    media, more = tmp_path / "media", tmp_path / "more"
    media.mkdir(), more.mkdir()
    monkeypatch.setenv("ALICE_ALLOWED_DIRS", f"{media}{os.pathsep}{more}")
    in_home = clip("home.mp4")
    text = _refused(await _add(connect, str(in_home)), twin)
    assert str(media) in text and str(more) in text
    ok = await _add(connect, str(shutil.copy(in_home, more / "ok.mp4")))
    assert ok.is_error is False, ok.content[0].text
    assert len(twin.state.uploads) == 1 and len(files_in(output_dir)) == 1


async def test_results_in_the_output_folder_can_be_soundtracked_again(connect, clip, output_dir, twin) -> None:
    output_dir.mkdir()
    previous = Path(shutil.copy(clip(), output_dir / "kling-video.mp4"))
    result = await _add(connect, previous.as_uri())
    assert result.is_error is False, result.content[0].text
    assert twin.state.uploads[0].size == previous.stat().st_size


# ------------------------------------------------------------------------------------------------ MCP roots
def _roots(*folders: Path):  # type: ignore[no-untyped-def]
    async def list_roots(context) -> ListRootsResult:  # type: ignore[no-untyped-def]
        return ListRootsResult(roots=[Root(uri=f.as_uri(), name=f.name) for f in folders])

    return list_roots


async def test_roots_narrow_the_allowed_folders(connect, home, clip, twin) -> None:
    project = home / "project"
    project.mkdir()
    other = clip("elsewhere.mp4")
    text = _refused(await _add(connect, str(other), list_roots_callback=_roots(project)), twin)
    assert "shared with this server" in text and str(project) in text
    inside = Path(shutil.copy(other, project / "scene.mp4"))
    result = await _add(connect, str(inside), list_roots_callback=_roots(project))
    assert result.is_error is False, result.content[0].text
    assert len(twin.state.uploads) == 1


async def test_roots_never_widen_the_allowed_folders(connect, outside, twin) -> None:
    text = _refused(await _add(connect, str(outside), list_roots_callback=_roots(outside.parent)), twin)
    assert "outside the folders it may read" in text


async def test_estimate_cost_obeys_the_read_policy_and_roots(connect, home, outside, clip, twin) -> None:
    project = home / "project"
    project.mkdir()
    async with connect(list_roots_callback=_roots(project)) as client:
        far = await client.call_tool("estimate_cost", {"video": str(outside)})
        near = await client.call_tool("estimate_cost", {"video": str(clip("x.mp4"))})
        fine = await client.call_tool("estimate_cost", {"video": str(shutil.copy(clip("y.mp4"), project / "y.mp4"))})
    assert far.is_error and "outside the folders it may read" in far.content[0].text
    assert near.is_error and "shared with this server" in near.content[0].text
    assert fine.is_error is False and fine.structured_content["duration"] == pytest.approx(2.0, abs=0.1)


# ------------------------------------------------------------------------------------------------ unit level
def test_policy_checks_touch_nothing_on_disk(tmp_path: Path) -> None:
    policy = ReadPolicy(allowed=(tmp_path,))
    policy.check_path(tmp_path / "missing" / "a.mp4", "a.mp4")  # inside: no error, no stat needed
    with pytest.raises(InputError) as refused:
        policy.check_path(tmp_path.parent / "b.mp4", "b.mp4")
    assert refused.value.code == "path_not_allowed"


def test_prefix_siblings_are_not_inside(tmp_path: Path) -> None:
    assert is_inside(tmp_path / "home" / "a", tmp_path / "home")
    assert not is_inside(tmp_path / "home-evil" / "a", tmp_path / "home")


def test_empty_roots_narrow_nothing_and_non_file_roots_narrow_to_nothing(tmp_path: Path) -> None:
    policy = ReadPolicy(allowed=(tmp_path,))
    assert policy.with_root_uris([]) == policy and policy.with_root_uris(None) == policy
    narrowed = policy.with_root_uris(["https://example.com/"])
    with pytest.raises(InputError):
        narrowed.check_path(tmp_path / "a.mp4", "a.mp4")


async def test_a_batch_never_lists_a_folder_it_may_not_read(connect, home, clip, twin, outside) -> None:
    hidden = home / ".private"
    hidden.mkdir()
    shutil.copy(clip(), hidden / "secret-name.mp4")
    async with connect() as client:
        result = await client.call_tool(
            "add_audio_to_videos", {"videos": [str(hidden), str(outside.parent)], "prompt": "x"}
        )
    items = result.structured_content["items"]
    assert [i["video"] for i in items] == [str(hidden), str(outside.parent)]
    assert "hidden" in items[0]["error"] and "outside the folders" in items[1]["error"]
    assert "secret-name" not in result.content[0].text and twin.state.uploads == []

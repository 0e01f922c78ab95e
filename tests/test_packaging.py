"""Installs people use: a built wheel in a fresh venv, ``uvx``, the MCP Bundle (.mcpb) and the registry entry.

The wheel is built once per session (``python -m build``); each test installs or runs it the way a user would and
talks MCP to the installed server over stdio. The bundle test needs ``npx`` (Node.js), which runs the official
``@anthropic-ai/mcpb`` CLI; it is skipped where Node.js is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from release.check_server_json import registry_rules

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (built,) = out.glob("alice_mcp-*.whl")
    return built


async def _tools_over_stdio(command: str, args: list[str], env: dict[str, str]) -> set[str]:
    """Start the server as a host would, complete the MCP handshake, list its tools."""
    params = StdioServerParameters(command=command, args=args, env=env)
    async with Client(params) as client:
        return {tool.name for tool in (await client.list_tools()).tools}


def _env(tmp_path: Path) -> dict[str, str]:
    keep = ("PATH", "HOME", "PIP_FIND_LINKS", "PIP_CERT", "SSL_CERT_FILE", "UV_CACHE_DIR", "PIP_CONFIG_FILE")
    return {
        **{k: v for k, v in os.environ.items() if k in keep},
        "ALICE_DATA_DIR": str(tmp_path / "data"),
        "ALICE_OUTPUT_DIR": str(tmp_path / "out"),
    }


async def test_the_wheel_installs_and_serves_in_a_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    from uv import find_uv_bin

    venv.create(tmp_path / "venv", with_pip=False)  # a plain, empty venv; uv installs into it (pip does the same,
    bindir = tmp_path / "venv" / ("Scripts" if os.name == "nt" else "bin")  # slower: ~100 s here, mostly downloads)
    subprocess.run(
        [find_uv_bin(), "pip", "install", "--python", str(bindir / "python"), str(wheel)],
        check=True,
        capture_output=True,
        timeout=900,
    )
    installed = shutil.which("alice-mcp", path=str(bindir))
    assert installed is not None
    version = subprocess.run([installed, "--version"], capture_output=True, text=True, check=True, timeout=60)
    assert version.stdout.strip().startswith("alice-mcp ")
    tools = await _tools_over_stdio(installed, [], _env(tmp_path))
    assert {"add_audio_to_video", "generate_video", "estimate_cost", "list_generations"} <= tools


async def test_uvx_runs_the_wheel(wheel: Path, tmp_path: Path) -> None:
    from uv import find_uv_bin

    tools = await _tools_over_stdio(find_uv_bin(), ["tool", "run", "--from", str(wheel), "alice-mcp"], _env(tmp_path))
    assert {"add_audio_to_video", "generate_audio"} <= tools


@pytest.mark.skipif(shutil.which("npx") is None, reason="Node.js (npx) runs the official mcpb CLI")
def test_the_bundle_validates_packs_and_starts_as_its_manifest_says(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "release" / "build_mcpb.py"), "--out", str(tmp_path), "--smoke"],
        capture_output=True,
        text=True,
        timeout=1200,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Manifest schema validation passes" in done.stdout
    assert "alice-mcp 0.1.0" in done.stdout and "$0.008" in done.stdout  # the unpacked bundle ran
    manifest = json.loads((ROOT / "release" / "mcpb" / "manifest.json").read_text())
    assert manifest["server"]["type"] == "uv"
    config = manifest["user_config"]
    assert config["fal_key"]["sensitive"] is True and config["fal_key"]["type"] == "string"
    assert config["output_dir"]["type"] == config["allowed_dirs"]["type"] == "directory"
    assert config["allowed_dirs"]["multiple"] is True
    assert manifest["privacy_policies"]  # videos are uploaded to fal
    env = manifest["server"]["mcp_config"]["env"]
    assert env["FAL_KEY"] == "${user_config.fal_key}" and env["ALICE_OUTPUT_DIR"] == "${user_config.output_dir}"


def test_the_registry_entry_follows_the_registry_rules() -> None:
    entry = json.loads((ROOT / "server.json").read_text())
    assert registry_rules(entry) == []
    assert len(entry["description"]) <= 100
    broken = {**entry, "description": "x" * 101, "version": "9.9.9"}
    problems = registry_rules(broken)
    assert any("description" in p for p in problems) and any("version" in p for p in problems)


async def test_serve_takes_the_bundles_folder_list_and_drops_placeholders(alice_env, clip, tmp_path: Path) -> None:
    """The bundle passes the folder picker's choice as ``serve --allowed-dirs A B`` (an array becomes arguments)."""
    from tests.conftest import stdio_params

    inside, other = clip("x.mp4"), tmp_path / "elsewhere"
    other.mkdir()
    outside = Path(shutil.copy(inside, other / "y.mp4"))
    picked = ["serve", "--allowed-dirs", str(other), "${user_config.allowed_dirs}"]
    async with Client(stdio_params(alice_env, *picked)) as client:
        allowed = await client.call_tool("estimate_cost", {"video": str(outside)})
        refused = await client.call_tool("estimate_cost", {"video": str(inside)})  # home: no longer allowed
    assert allowed.is_error is False, allowed.content[0].text
    assert refused.is_error is True and str(other) in refused.content[0].text

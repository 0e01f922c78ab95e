#!/usr/bin/env python3
"""Build the MCP Bundle (``dist/alice-mcp-<version>.mcpb``) for one-click install in Claude Desktop.

The bundle uses the manifest's ``uv`` server type: it carries the ``alice_mcp`` package and ``pyproject.toml``, and
the host's uv installs the dependencies (PyAV's wheels included) for the user's platform. Steps:

1. stage ``release/mcpb/manifest.json``, ``release/mcpb/server/main.py``, ``pyproject.toml``, ``README.md``
   and ``alice_mcp/`` in a temporary folder (the manifest's version must equal the package's);
2. ``mcpb validate`` the manifest and ``mcpb pack`` the folder with the official CLI, ``@anthropic-ai/mcpb`` from
   npm (run through ``npx``; needs Node.js);
3. with ``--smoke``: unpack the bundle and start it the way the manifest's ``mcp_config`` says
   (``uv run --directory <bundle> server/main.py ...``), printing ``alice-mcp --version`` and an offline ``estimate``.

Usage: ``python release/build_mcpb.py [--out DIR] [--smoke]``. Prints what it did; exits non-zero on any failure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUNDLE_SOURCE = ROOT / "release" / "mcpb"
MCPB_CLI = "@anthropic-ai/mcpb@2"
"""The official bundle CLI, bounded to its current major version."""


def package_version() -> str:
    """``__version__`` of the checked-out ``alice_mcp`` (read from the source, not an installed copy)."""
    for line in (ROOT / "alice_mcp" / "__init__.py").read_text().splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    raise SystemExit("alice_mcp/__init__.py has no __version__")


def stage(folder: Path) -> dict:
    """Copy what the bundle carries into ``folder``; return the manifest."""
    manifest = json.loads((BUNDLE_SOURCE / "manifest.json").read_text())
    if manifest["version"] != package_version():
        raise SystemExit(
            f"release/mcpb/manifest.json says version {manifest['version']}, the package is {package_version()}"
        )
    shutil.copy2(BUNDLE_SOURCE / "manifest.json", folder / "manifest.json")
    shutil.copy2(BUNDLE_SOURCE / ".mcpbignore", folder / ".mcpbignore")
    shutil.copytree(BUNDLE_SOURCE / "server", folder / "server", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, folder / name)
    shutil.copytree(ROOT / "alice_mcp", folder / "alice_mcp", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return manifest


def mcpb(*args: str) -> str:
    """Run the official ``mcpb`` CLI through npx; return its output (raise on failure)."""
    npx = shutil.which("npx")
    if npx is None:
        raise SystemExit("npx (Node.js) is not installed; it runs the official @anthropic-ai/mcpb CLI")
    done = subprocess.run([npx, "--yes", MCPB_CLI, *args], capture_output=True, text=True, timeout=600)
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        raise SystemExit(f"mcpb {' '.join(args)} failed ({done.returncode}):\n{output}")
    return output


def uv_binary() -> str:
    """uv from PATH, else the one the ``uv`` package from PyPI installs."""
    found = shutil.which("uv")
    if found:
        return found
    try:
        from uv import find_uv_bin
    except ImportError:
        raise SystemExit("uv is not installed: pip install uv")
    return find_uv_bin()


def smoke(bundle: Path, work: Path) -> list[str]:
    """Unpack ``bundle`` and run it as its manifest says a host does; return the commands' outputs."""
    unpacked = work / "installed"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(unpacked)
    manifest = json.loads((unpacked / "manifest.json").read_text())
    config = manifest["server"]["mcp_config"]
    base = [uv_binary() if config["command"] == "uv" else config["command"]]
    base += [arg.replace("${__dirname}", str(unpacked)) for arg in config["args"][:4]]  # uv run --directory DIR file
    env = {**os.environ, "ALICE_DATA_DIR": str(work / "data"), "ALICE_OUTPUT_DIR": str(work / "out")}
    outputs = []
    for extra in (["--version"], ["estimate", "--duration", "8"]):
        done = subprocess.run([*base, *extra], capture_output=True, text=True, env=env, timeout=900)
        if extra == ["--version"] and done.returncode != 0:
            raise SystemExit(f"the unpacked bundle did not start:\n{done.stdout}\n{done.stderr}")
        outputs.append(f"$ {' '.join(['uv', *base[1:3], '<bundle>', *base[4:], *extra])}\n{done.stdout.strip()}")
    return outputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="where the .mcpb goes (default dist/)")
    parser.add_argument("--smoke", action="store_true", help="unpack the bundle and start it with uv")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="alice-mcpb-") as tmp:
        work = Path(tmp)
        folder = work / "bundle"
        folder.mkdir()
        manifest = stage(folder)
        print(mcpb("validate", str(folder / "manifest.json")))
        args.out.mkdir(parents=True, exist_ok=True)
        bundle = args.out.resolve() / f"{manifest['name']}-{manifest['version']}.mcpb"
        bundle.unlink(missing_ok=True)
        print(mcpb("pack", str(folder), str(bundle)))
        with zipfile.ZipFile(bundle) as archive:
            names = archive.namelist()
        print(f"built {bundle} ({bundle.stat().st_size / 1024:.0f} KB, {len(names)} files)")
        if args.smoke:
            for output in smoke(bundle, work):
                print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())

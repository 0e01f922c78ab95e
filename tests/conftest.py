"""Shared fixtures: one fal twin per test session, an isolated environment per test, MCP clients, real clips.

The product runs unpatched: its HTTP traffic reaches the twin through ``HTTPS_PROXY`` + ``SSL_CERT_FILE`` (the twin's
test CA), exactly as it would reach fal.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest
from mcp import Client, StdioServerParameters

from tests.fal_twin import FalTwin
from tests.media import make_clip

FAKE_KEY = "twin-key-7f3a9c"  # recognisable, so leak scans can look for it
ALICE_BIN = Path(sys.executable).with_name("alice-mcp")


@pytest.fixture(scope="session")
def twin_server() -> Iterator[FalTwin]:
    with FalTwin(queue_seconds=0.2, run_seconds=0.3) as twin:
        yield twin


@pytest.fixture
def twin(twin_server: FalTwin) -> Iterator[FalTwin]:
    """The session's twin, reset to a clean state for this test."""
    twin_server.reset()
    twin_server.state.queue_seconds = 0.2
    twin_server.state.run_seconds = 0.3
    yield twin_server
    twin_server.reset()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def output_dir(tmp_path: Path) -> Path:
    return tmp_path / "out"


@pytest.fixture
def alice_env(twin: FalTwin, home: Path, output_dir: Path, tmp_path: Path) -> dict[str, str]:
    """The environment an alice-mcp process gets in tests: the twin's proxy and CA, a fake key, private folders."""
    return {
        **twin.env,
        "FAL_KEY": FAKE_KEY,
        "HOME": str(home),
        "ALICE_OUTPUT_DIR": str(output_dir),
        "ALICE_DATA_DIR": str(tmp_path / "data"),
        "ALICE_POLL_INTERVAL_S": "0.05",
        "ALICE_RETRY_BACKOFF_S": "0.01",
        "ALICE_LOG_LEVEL": "INFO",
    }


@pytest.fixture
def inprocess_env(alice_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Apply ``alice_env`` to this process, for tests that run the server in memory."""
    for name in ("FAL_KEY_ID", "FAL_KEY_SECRET", "ALICE_PRICE_OVERRIDES", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in alice_env.items():
        monkeypatch.setenv(name, value)
    return alice_env


@pytest.fixture(params=["legacy", "auto"])
def connect(request: pytest.FixtureRequest, inprocess_env: dict[str, str]) -> Callable[..., Client]:
    """A factory for in-memory clients of a fresh server, in both protocol eras (legacy = what Claude Desktop
    speaks). Use as ``async with connect() as client:`` (never yield an entered client from a fixture)."""
    from alice_mcp.mcp.server import build_server

    def factory(**kwargs) -> Client:  # type: ignore[no-untyped-def]
        return Client(build_server(), mode=request.param, **kwargs)

    factory.mode = request.param  # type: ignore[attr-defined]
    return factory


def stdio_params(env: dict[str, str], *args: str) -> StdioServerParameters:
    """Launch the real console script, as an MCP host would."""
    return StdioServerParameters(command=str(ALICE_BIN), args=list(args), env=env)


@pytest.fixture
def clip(tmp_path: Path, home: Path) -> Callable[..., Path]:
    """``clip("name.mp4", seconds=2, ...)`` makes a real clip in the test's home folder and returns its path."""

    def factory(name: str = "clip.mp4", seconds: float = 2.0, **kwargs) -> Path:  # type: ignore[no-untyped-def]
        folder = home / "clips"
        folder.mkdir(exist_ok=True)
        return make_clip(folder / name, seconds, **kwargs)

    return factory


def files_in(folder: Path) -> list[str]:
    """Every file name under ``folder`` (hidden ones included), sorted."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture(autouse=True)
def _no_real_fal_key(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """Tests never see a developer's real key, except the `live` ones."""
    if "live" not in request.keywords:
        monkeypatch.delenv("FAL_KEY", raising=False)


os.environ.setdefault("PYTHONUTF8", "1")

"""alice-mcp: add generated, synchronized audio to video through fal.ai's MMAudio V2, as an MCP server, a CLI and a
Python API. Importing the package is cheap: heavy modules load when first used.

Python API (loaded on first access)::

    from alice_mcp import AliceOrchestrator, GenerationRequest, GenerationType
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "AliceOrchestrator": "api",
    "GenerationRequest": "api",
    "GenerationType": "api",
    "AssetResult": "api",
    "AliceError": "data.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    """Import the Python API's names on first use, so ``import alice_mcp`` (and the server's start-up) stays cheap."""
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'alice_mcp' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module_name}", __name__), name)
    globals()[name] = value
    return value

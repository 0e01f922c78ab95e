"""The ``alice-mcp`` command line. ``alice-mcp`` (or ``alice-mcp serve``) runs the MCP server over stdio."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from . import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alice-mcp",
        description="Add generated, synchronized audio to video with fal.ai MMAudio V2 (MCP server).",
    )
    parser.add_argument("--version", action="version", version=f"alice-mcp {__version__}")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the MCP server over stdio (the default)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    from .logs import configure_logging

    configure_logging(os.environ.get("ALICE_LOG_LEVEL", "INFO"))
    if args.command in (None, "serve"):
        from .server import run_stdio

        run_stdio()
        return 0
    print(f"unknown command {args.command}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())

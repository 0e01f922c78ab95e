"""Entry point of the alice-mcp MCP Bundle: the host runs ``uv run --directory <bundle> server/main.py serve``.

uv installs the ``alice-mcp`` project (``pyproject.toml`` at the bundle root) with its dependencies into the bundle's
own environment; this file only hands over to the console command. It lives outside the package on purpose: running
a file inside ``alice_mcp/`` as a script would put that folder first on ``sys.path``, where ``alice_mcp/mcp`` would
hide the MCP SDK.
"""

from alice_mcp.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())

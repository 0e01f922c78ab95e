"""``python -m alice_mcp`` does exactly what the ``alice-mcp`` console script does."""

from alice_mcp.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())

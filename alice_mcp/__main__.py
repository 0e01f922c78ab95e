"""``python -m alice_mcp`` does exactly what the ``alice-mcp`` console script does."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python3
"""Check ``server.json`` (the MCP registry entry) before publishing it with ``mcp-publisher``.

Always: the official registry's own rules that need no download (one PyPI package named like this project, its
version equal to the package's, a description of at most 100 characters, and the ``mcp-name: <name>`` marker in
README.md, which the registry reads from the PyPI page to prove the package is ours). With ``--schema FILE`` (the
registry's published ``server.schema.json``, the file the ``$schema`` URL names): JSON Schema validation too.

Usage: ``python release/check_server_json.py [--schema FILE]``; exits 1 and lists the problems if any.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def registry_rules(entry: dict, root: Path = ROOT) -> list[str]:
    """The official registry's publishing rules for a PyPI server that can be checked offline; ``[]`` if all hold."""
    problems = []
    name = re.search(r'^name = "([^"]+)"', (root / "pyproject.toml").read_text(), re.MULTILINE)
    project_name = name.group(1) if name else None
    version = re.search(r'__version__ = "([^"]+)"', (root / "alice_mcp" / "__init__.py").read_text())
    package_version = version.group(1) if version else None
    if not re.fullmatch(r"[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+", entry.get("name", "")):
        problems.append(f"name {entry.get('name')!r} is not reverse-DNS 'namespace/server'")
    if not 1 <= len(entry.get("description", "")) <= 100:
        problems.append(f"description has {len(entry.get('description', ''))} characters (1 to 100 allowed)")
    if entry.get("version") != package_version:
        problems.append(f"version {entry.get('version')!r} is not the package's {package_version!r}")
    pypi = [p for p in entry.get("packages", []) if p.get("registryType") == "pypi"]
    if len(pypi) != 1:
        problems.append("there must be exactly one package with registryType 'pypi'")
    for package in pypi:
        if package.get("identifier") != project_name:
            problems.append(f"package identifier {package.get('identifier')!r} is not {project_name!r}")
        if package.get("version") != package_version:
            problems.append(f"package version {package.get('version')!r} is not {package_version!r}")
        if package.get("transport", {}).get("type") != "stdio":
            problems.append("the PyPI package must use the stdio transport (what `alice-mcp` serves by default)")
    marker = f"mcp-name: {entry.get('name')}"
    if marker not in (root / "README.md").read_text():
        problems.append(f"README.md lacks the ownership marker {marker!r}")
    return problems


def schema_problems(entry: dict, schema_file: Path) -> list[str]:
    """JSON Schema (draft-07) validation of ``entry`` against the registry's published schema."""
    import jsonschema

    schema = json.loads(schema_file.read_text())
    if schema.get("$id") != entry.get("$schema"):
        return [f"server.json names the schema {entry.get('$schema')}, the file given is {schema.get('$id')}"]
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in validator.iter_errors(entry)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schema", type=Path, help="the registry's published server.schema.json")
    parser.add_argument("--file", type=Path, default=ROOT / "server.json")
    args = parser.parse_args(argv)
    entry = json.loads(args.file.read_text())
    problems = registry_rules(entry)
    if args.schema:
        problems += schema_problems(entry, args.schema)
    for problem in problems:
        print(f"server.json: {problem}", file=sys.stderr)
    if not problems:
        checked = f"and is valid against {entry['$schema']}" if args.schema else "(no --schema: schema not checked)"
        print(f"server.json: {entry['name']} {entry['version']} meets the registry's rules {checked}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

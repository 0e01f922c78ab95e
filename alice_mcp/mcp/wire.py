"""The MCP server class of alice-mcp: the SDK's ``MCPServer`` with our manners at the wire.

* A tool's description is published as prose: its docstring dedented, the lines of each paragraph joined, so no
  source indentation reaches the model.
* Arguments that fail a tool's input schema are answered in plain words, like every error of our own: each argument
  named, what was given, and what its published schema allows -- never pydantic's raw dump. An argument the tool
  does not take is refused by name instead of being silently dropped (a misspelt ``num_step`` would otherwise
  cost money for a default the caller did not ask for).
* Tools are built (argument model and schemas) when first needed: ``tools/list`` is answered from the list stored
  for this build of the package (:mod:`alice_mcp.mcp.tool_list_cache`) when there is one, and the first
  ``tools/call`` builds them. Without a stored list, ``tools/list`` builds them and stores what it publishes.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Sequence
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, InputRequiredResult
from mcp.types import Tool as MCPTool
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from alice_mcp.mcp import tool_list_cache

#: A given value longer than this is described by its length, not echoed back.
ECHO_MAX_CHARS = 60


def prose(text: str) -> str:
    """``text`` (a docstring) dedented, with each paragraph's lines joined by spaces; paragraphs stay apart."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in para.splitlines() if line.strip()) for para in paragraphs)


class AliceServer(MCPServer):
    """``MCPServer`` whose tool descriptions are prose and whose argument errors are plain words (module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._input_schemas: dict[str, dict[str, Any]] = {}
        self._unbuilt: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []

    def add_tool(
        self,
        fn: Callable[..., Any],
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        """Register ``fn`` like the SDK does, with its description as :func:`prose`; it is built when first needed
        (module doc)."""
        self._unbuilt.append((fn, (name, title, prose(description or fn.__doc__ or ""), *args), kwargs))

    def build_tools(self) -> None:
        """Build every tool registered so far (the SDK's own registration). Idempotent."""
        unbuilt, self._unbuilt = self._unbuilt, []
        for fn, args, kwargs in unbuilt:
            super().add_tool(fn, *args, **kwargs)

    async def list_tools(self) -> list[MCPTool]:
        """What ``tools/list`` publishes: the stored list of this build, else the tools built and the list stored."""
        if self._unbuilt:
            key = tool_list_cache.build_key()
            stored = tool_list_cache.load_tools(key) if key else None
            if stored is not None:
                return stored
            self.build_tools()
            tools = await super().list_tools()
            if key:
                tool_list_cache.save_tools(key, tools)
            return tools
        return await super().list_tools()

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        """Refuse unknown arguments by name, then run the tool; its schema errors come back as plain words."""
        self.build_tools()
        schema = await self._input_schema(name)
        if schema is not None:
            unknown = sorted(set(arguments) - set(schema.get("properties", {})))
            if unknown:
                raise ToolError(f"Error executing tool {name}: {unknown_arguments_message(name, unknown, schema)}")
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            # The SDK raises argument validation failures as a ToolError caused by pydantic's ValidationError
            # (the same test its own handler uses to log "rejected arguments").
            if schema is None or not isinstance(exc.__cause__, ValidationError):
                raise
            message = argument_errors_message(exc.__cause__.errors(), schema)
            raise ToolError(f"Error executing tool {name}: {message}") from exc.__cause__

    async def _input_schema(self, name: str) -> dict[str, Any] | None:
        """The published input schema of tool ``name`` (``None`` for an unknown tool, which the SDK answers)."""
        if name not in self._input_schemas:
            self._input_schemas = {tool.name: tool.input_schema for tool in await self.list_tools()}
        return self._input_schemas.get(name)


def unknown_arguments_message(tool: str, unknown: Sequence[str], schema: dict[str, Any]) -> str:
    """``tool`` does not take the arguments ``unknown``; name them and list the ones it takes."""
    names = ", ".join(f"`{name}`" for name in unknown)
    takes = ", ".join(schema.get("properties", {})) or "no arguments"
    verb = "is not an argument" if len(unknown) == 1 else "are not arguments"
    return f"{names} {verb} of {tool}; it takes: {takes}."


def argument_errors_message(errors: Sequence[ErrorDetails], schema: dict[str, Any]) -> str:
    """One sentence per invalid argument: its name, what was given, and what the published ``schema`` allows."""
    properties: dict[str, Any] = schema.get("properties", {})
    parts: dict[str, str] = {}
    for err in errors:
        path, prop = _locate(err["loc"], properties)
        if path in parts:
            continue  # one sentence per argument, even when pydantic reports several branches
        if err["type"] == "missing":
            description = prop.get("description")
            parts[path] = f"`{path}` is required" + (f" ({description.rstrip('.')})" if description else "")
        else:
            parts[path] = f"`{path}` got {_given(err.get('input'))}; allowed: {allowed_values(prop)}"
    return "; ".join(parts.values()) + "."


def allowed_values(prop: dict[str, Any]) -> str:
    """What a JSON-schema property accepts, in words, e.g. ``"a whole number from 4 to 50"``."""
    branches = [b for b in prop.get("anyOf", [prop]) if b.get("type") != "null"]
    nullable = "anyOf" in prop and len(branches) < len(prop["anyOf"])
    merged = {**prop, **branches[0]} if len(branches) == 1 else prop
    kind = merged.get("type")
    if "enum" in merged:
        words = "one of " + ", ".join(json.dumps(value) for value in merged["enum"])
    elif "const" in merged:
        words = json.dumps(merged["const"])
    elif kind == "integer":
        words = "a whole number" + _bounds(merged, "minimum", "maximum", "")
    elif kind == "number":
        words = "a number" + _bounds(merged, "minimum", "maximum", "")
    elif kind == "boolean":
        words = "true or false"
    elif kind == "string":
        words = "text" + _bounds(merged, "minLength", "maxLength", " characters")
    elif kind == "array":
        words = "a list" + _bounds(merged, "minItems", "maxItems", " items")
        if merged.get("items"):
            words += f", each {allowed_values(merged['items'])}"
    elif kind == "object":
        words = "an object"
    else:
        words = "a value of the tool's input schema"
    return words + (", or leave it out" if nullable else "")


def _bounds(prop: dict[str, Any], low_key: str, high_key: str, unit: str) -> str:
    low, high = prop.get(low_key), prop.get(high_key)
    if low is not None and high is not None:
        return f" of {low:g} to {high:g}{unit}" if unit else f" from {low:g} to {high:g}"
    if low is not None:
        return f" of at least {low:g}{unit}"
    if high is not None:
        return f" of at most {high:g}{unit}"
    return ""


def _locate(loc: Sequence[int | str], properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The argument path an error points at (``videos[3]``) and the schema of that spot."""
    if not loc:
        return "arguments", {}
    name = str(loc[0])
    path, prop = name, properties.get(name, {})
    for part in loc[1:]:
        if not isinstance(part, int):
            break  # a union branch or validator name, not a place in the argument
        path += f"[{part}]"
        items = [b.get("items") for b in prop.get("anyOf", [prop]) if b.get("items")]
        prop = items[0] if items else {}
    return path, prop


def _given(value: Any) -> str:
    """The given value as JSON, or its size when it is too long to echo."""
    if isinstance(value, str) and len(value) > ECHO_MAX_CHARS:
        return f"a text of {len(value)} characters"
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= ECHO_MAX_CHARS else text[:ECHO_MAX_CHARS] + "…"

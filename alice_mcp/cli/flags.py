"""Command-line flags derived from the parameter models, so a new table field becomes a flag without touching cli.py.

Each field of a pydantic model becomes ``--field-name`` with the field's type (``int``/``float``/``str``), its
choices (``Literal``), ``--flag/--no-flag`` for booleans, and a help text made of its description, allowed range and
default. Every flag defaults to ``None`` ("not given"), so presets and the table's defaults fill in what is left out,
exactly as for the MCP tools. Ranges are checked by the core (one place), not by argparse.
"""

from __future__ import annotations

import argparse
import types
from typing import Any, Iterable, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from alice_mcp.data.params import allowed_range


def flag_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def _unwrap_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        if len(options) == 1:
            return options[0]
    return annotation


def _help(name: str, field: FieldInfo, model: type[BaseModel], default_text: str | None) -> str:
    parts = [field.description or name.replace("_", " ")]
    rng = allowed_range(name, model)
    if rng:
        parts.append(f"Allowed: {rng}.")
    if default_text:
        parts.append(f"Default: {default_text}.")
    elif not field.is_required() and field.default not in (None, ""):
        parts.append(f"Default: {field.default}.")
    return " ".join(parts).replace("%", "%%")


def add_model_flags(
    parser: argparse.ArgumentParser,
    model: type[BaseModel],
    *,
    title: str,
    skip: Iterable[str] = (),
    only: Iterable[str] | None = None,
    defaults_text: dict[str, str] | None = None,
) -> list[str]:
    """Add one flag per field of ``model`` (all, or ``only`` these, minus ``skip``) in an argument group; return the
    field names added. ``defaults_text`` rewords a field's default in the help (e.g. "the clip's length")."""
    group = parser.add_argument_group(title)
    added: list[str] = []
    wanted = None if only is None else set(only)
    for name, field in model.model_fields.items():
        if name in skip or (wanted is not None and name not in wanted):
            continue
        kind = _unwrap_optional(field.annotation)
        help_text = _help(name, field, model, (defaults_text or {}).get(name))
        options: dict[str, Any] = {"dest": name, "default": None, "help": help_text}
        if kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        elif get_origin(kind) is Literal:
            choices = get_args(kind)
            options.update(type=type(choices[0]), choices=choices, metavar="{" + ",".join(map(str, choices)) + "}")
        elif kind in (int, float):
            options.update(type=kind, metavar=kind.__name__.upper())
        else:
            options.update(type=str, metavar="TEXT")
        group.add_argument(flag_name(name), **options)
        added.append(name)
    return added


def model_values(args: argparse.Namespace, names: Iterable[str]) -> dict[str, Any]:
    """The values of the derived flags (``None`` = not given)."""
    return {name: getattr(args, name, None) for name in names}

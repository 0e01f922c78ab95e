"""What each ``alice-mcp`` subcommand does: build the core's request from the parsed flags, run it, print the result.

stdout carries only the result (a path, a price, a table; or the result model as JSON with ``--json``); progress and
messages go to stderr. Errors are raised (:class:`~alice_mcp.errors.AliceError`) and turned into exit codes by
:mod:`alice_mcp.cli`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, Awaitable, Callable

from pydantic import BaseModel

from .cli_flags import model_values
from .cli_progress import ProgressRenderer
from .config import load_settings
from .models import (
    AudioRequest, CostEstimate, GenerationResult, PresetInfo, PresetList, VideoAudioRequest, VideoRequest, VideoResult,
)

CoreCall = Callable[[Any, ProgressRenderer], Awaitable[BaseModel]]


def emit(args: argparse.Namespace, result: BaseModel, human: str) -> None:
    """Print ``result`` as JSON (``--json``) or ``human`` text on stdout."""
    if getattr(args, "json", False):
        print(result.model_dump_json(indent=2))
    elif human:
        print(human)


def note(args: argparse.Namespace, message: str) -> None:
    """A message for the person at the terminal (stderr), unless ``--quiet``."""
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr)


def _run_paid(args: argparse.Namespace, call: CoreCall) -> BaseModel:
    """Run one paid core call with a progress renderer on stderr; the core's connections are closed afterwards."""
    from .core import AliceCore

    async def go() -> BaseModel:
        core = AliceCore(load_settings())
        renderer = ProgressRenderer(sys.stderr, enabled=not args.quiet)
        try:
            return await call(core, renderer)
        finally:
            renderer.close()
            await core.aclose()

    return asyncio.run(go())


def add_audio(args: argparse.Namespace) -> int:
    request = VideoAudioRequest(
        video=args.video, preset=args.preset, values=model_values(args, args.table_fields), output_path=args.output,
        options=model_values(args, args.option_fields),
    )
    result = _run_paid(args, lambda core, sink: core.add_audio_to_video(request, sink))
    _report_generation(args, result)  # type: ignore[arg-type]
    return 0


def text_to_audio(args: argparse.Namespace) -> int:
    request = AudioRequest(
        preset=args.preset, values=model_values(args, args.table_fields), output_path=args.output, quality=args.quality
    )
    result = _run_paid(args, lambda core, sink: core.generate_audio(request, sink))
    _report_generation(args, result)  # type: ignore[arg-type]
    return 0


def generate_video(args: argparse.Namespace) -> int:
    request = VideoRequest(values=model_values(args, args.table_fields), output_path=args.output)
    result: VideoResult = _run_paid(args, lambda core, sink: core.generate_video(request, sink))  # type: ignore[assignment]
    note(args, f"alice-mcp: {result.duration} s video ({result.aspect_ratio}, no sound), ~${result.cost_usd:.2f}, "
               f"{result.elapsed_s:.1f} s. Give it sound with: alice-mcp add-audio {result.output_path} --prompt ...")
    emit(args, result, result.output_path)
    return 0


def _report_generation(args: argparse.Namespace, result: GenerationResult) -> None:
    for line in getattr(result, "notes", None) or []:
        note(args, f"note: {line}")
    note(args, f"alice-mcp: {result.duration:g} s of audio, seed {result.seed}, ~${result.cost_usd:.3f}, "
               f"{result.elapsed_s:.1f} s")
    emit(args, result, result.output_path)


def presets(args: argparse.Namespace) -> int:
    from .presets import PRESETS

    listing = PresetList(presets=[PresetInfo(**p.model_dump()) for p in PRESETS])
    width = max(len(p.id) for p in PRESETS)
    emit(args, listing, "\n".join(f"{p.id:<{width}}  {p.title}: {p.use_for}" for p in PRESETS))
    return 0


def estimate(args: argparse.Namespace) -> int:
    from .core import AliceCore

    async def go() -> CostEstimate:
        core = AliceCore(load_settings())
        try:
            return await core.estimate_cost(
                duration=args.duration, video=args.video, count=args.count, start_time=args.start_time, model=args.model
            )
        finally:
            await core.aclose()

    result = asyncio.run(go())
    for line in result.notes:
        note(args, f"note: {line}")
    emit(args, result, f"${result.usd:g}  ({result.formula}; {result.endpoint})")
    return 0


def doctor(args: argparse.Namespace) -> int:
    from .doctor import render_text, run_checks

    report = run_checks()
    emit(args, report, render_text(report))
    return 0 if report.ok else 4


def serve(args: argparse.Namespace) -> int:
    if args.transport == "http":
        from .http_serve import run_http

        run_http(args.host, args.port, args.path, allow_remote=args.allow_remote)
        return 0
    from .server import run_stdio

    run_stdio()
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "serve": serve,
    "add-audio": add_audio,
    "text-to-audio": text_to_audio,
    "generate-video": generate_video,
    "presets": presets,
    "estimate": estimate,
    "doctor": doctor,
}

"""What each ``alice-mcp`` subcommand does: build the core's request from the parsed flags, run it, print the result.

stdout carries only the result (a path, a price, a table; or the result model as JSON with ``--json``); progress and
messages go to stderr. Errors are raised (:class:`~alice_mcp.data.errors.AliceError`) and turned into exit codes by
:mod:`alice_mcp.cli.main`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any, Awaitable, Callable

from pydantic import BaseModel

from alice_mcp.adapters.settings import load_settings
from alice_mcp.cli.flags import model_values
from alice_mcp.cli.progress_bar import ProgressRenderer
from alice_mcp.data.errors import InputError
from alice_mcp.data.money import usd
from alice_mcp.data.params import refuse_stems_without_a_mix
from alice_mcp.data.vocabulary import CLI_WORDS
from alice_mcp.engine.models import (
    AudioRequest,
    CostEstimate,
    GenerationList,
    GenerationResult,
    GenerationStatus,
    PresetInfo,
    PresetList,
    VideoAudioRequest,
    VideoRequest,
    VideoResult,
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


def confirm_spend(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """How the command line approves a cost above ``ALICE_CONFIRM_SPEND_ABOVE_USD``: ``--yes``; else a question on
    the terminal; without a terminal it is refused (nothing is submitted) with a message saying what to do."""
    from alice_mcp.data.errors import SpendNotApproved
    from alice_mcp.engine.spend import approved_by_caller

    if getattr(args, "yes", False):
        return approved_by_caller

    async def ask(quote) -> bool:  # type: ignore[no-untyped-def]
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            raise SpendNotApproved(
                f"Not submitted: this job costs {usd(quote.usd)} ({quote.formula}), above ALICE_CONFIRM_SPEND_ABOVE_USD, "
                "and there is no terminal to ask on. Pass --yes to approve it, or the operator can raise "
                "ALICE_CONFIRM_SPEND_ABOVE_USD. Nothing was charged.",
                code="approval_unavailable",
            )
        print(
            f"This job costs {usd(quote.usd)} at fal ({quote.endpoint}: {quote.formula}). Approve? [y/N] ",
            end="",
            file=sys.stderr,
            flush=True,
        )
        answer = await asyncio.to_thread(sys.stdin.readline)
        return answer.strip().lower() in ("y", "yes")

    return ask


def _run_with_core(args: argparse.Namespace, call: CoreCall) -> BaseModel:
    """Run one core call with a progress renderer on stderr; the core's connections and ledger are closed afterwards.

    A paid job runs to its end in this process (the core's job manager is not started, so no other job is resumed
    here); Ctrl-C cancels it at fal.
    """
    from alice_mcp.engine.core import AliceCore

    async def go() -> BaseModel:
        core = AliceCore(load_settings(), words=CLI_WORDS)
        renderer = ProgressRenderer(sys.stderr, enabled=not getattr(args, "quiet", False))
        try:
            return await call(core, renderer)
        finally:
            renderer.close()
            await core.aclose()

    return asyncio.run(go())


def timeline_values(args: argparse.Namespace) -> dict:
    """``--end-time``, ``--segments`` and ``--cues`` (JSON lists) as the request's timeline; bad JSON is an
    :class:`InputError` naming the flag."""
    values = model_values(args, args.timeline_fields)
    for name in ("segments", "cues"):
        text = values.get(name)
        if text is None:
            continue
        try:
            values[name] = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"--{name} must be a JSON list, e.g. --{name} '{_EXAMPLES[name]}' ({exc.msg} at character {exc.pos})."
            ) from None
    return values


_EXAMPLES = {
    "segments": '[{"start": 0, "end": 12, "prompt": "tavern ambience"}]',
    "cues": '[{"at": 7.2, "duration": 1.5, "prompt": "door slam"}]',
}


def add_audio(args: argparse.Namespace) -> int:
    request = VideoAudioRequest(
        video=args.video,
        preset=args.preset,
        values=model_values(args, args.table_fields),
        output_path=args.output,
        options=model_values(args, args.option_fields),
        timeline=timeline_values(args),
        model_options=model_options(args.model_option) or None,
        takes=args.takes,
    )
    model = args.model[0] if args.model and len(args.model) == 1 else args.model
    result = _run_with_core(
        args,
        lambda core, sink: core.add_audio_to_video(
            request, sink, force=args.force, confirm=confirm_spend(args), model=model
        ),
    )
    _report_generation(args, result)  # type: ignore[arg-type]
    return 0


def regenerate(args: argparse.Namespace) -> int:
    """Redo some windows of a finished soundtrack: a new job paying for those windows alone."""
    windows = [window_selector(text) for text in args.windows]
    result = _run_with_core(
        args,
        lambda core, sink: core.regenerate_soundtrack_windows(args.job_id, windows, sink, confirm=confirm_spend(args)),
    )
    _report_generation(args, result)  # type: ignore[arg-type]
    return 0


def window_selector(text: str) -> int | str:
    """A WINDOW argument: an index (``3``) as a number, a time (``12.5s``) as it is (the core checks both)."""
    return int(text) if text.strip().isdigit() else text.strip()


def model_options(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` flags as a dict; VALUE is read as JSON when it parses, else kept as text."""
    import json

    from alice_mcp.data.errors import InputError

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--model-option {pair!r}: write KEY=VALUE, e.g. background_music_prompt=calm.")
        try:
            options[key.strip()] = json.loads(raw)
        except ValueError:
            options[key.strip()] = raw
    return options


def text_to_audio(args: argparse.Namespace) -> int:
    refuse_stems_without_a_mix(args.stems)
    request = AudioRequest(
        preset=args.preset, values=model_values(args, args.table_fields), output_path=args.output, quality=args.quality
    )
    result = _run_with_core(
        args, lambda core, sink: core.generate_audio(request, sink, force=args.force, confirm=confirm_spend(args))
    )
    _report_generation(args, result)  # type: ignore[arg-type]
    return 0


def generate_video(args: argparse.Namespace) -> int:
    request = VideoRequest(values=model_values(args, args.table_fields), output_path=args.output)
    result: VideoResult = _run_with_core(  # type: ignore[assignment]
        args, lambda core, sink: core.generate_video(request, sink, confirm=confirm_spend(args))
    )
    note(
        args,
        f"alice-mcp: job {result.job_id}, {result.duration} s video ({result.aspect_ratio}, no sound), "
        f"~{usd(result.cost_usd)}, {result.elapsed_s:.1f} s. "
        f"Give it sound with: alice-mcp add-audio {result.output_path} --prompt ...",
    )
    emit(args, result, result.output_path or "")
    return 0


def _report_generation(args: argparse.Namespace, result: GenerationResult) -> None:
    for line in getattr(result, "notes", None) or []:
        note(args, f"note: {line}")
    if result.cached:
        note(
            args,
            f"alice-mcp: already made by job {result.job_id} with the same input, settings and seed "
            f"{result.seed} (cached, $0); --force generates it again",
        )
    else:
        note(
            args,
            f"alice-mcp: job {result.job_id}, {result.duration:g} s of audio, seed {result.seed}, "
            f"~{usd(result.cost_usd)}, {result.elapsed_s:.1f} s",
        )
    emit(args, result, result.output_path or "")


def presets(args: argparse.Namespace) -> int:
    from alice_mcp.data.presets import PRESETS

    listing = PresetList(presets=[PresetInfo(**p.model_dump()) for p in PRESETS])
    width = max(len(p.id) for p in PRESETS)
    emit(args, listing, "\n".join(f"{p.id:<{width}}  {p.title}: {p.use_for}" for p in PRESETS))
    return 0


def estimate(args: argparse.Namespace) -> int:
    from alice_mcp.engine.core import AliceCore

    async def go() -> CostEstimate:
        core = AliceCore(load_settings(), words=CLI_WORDS)
        try:
            return await core.estimate_cost(
                duration=args.duration, video=args.video, count=args.count, start_time=args.start_time, model=args.model
            )
        finally:
            await core.aclose()

    result = asyncio.run(go())
    for line in result.notes:
        note(args, f"note: {line}")
    emit(args, result, f"{usd(result.usd)}  ({result.formula}; {result.endpoint})")
    return 0


def jobs(args: argparse.Namespace) -> int:
    """The newest jobs in the ledger."""
    listing: GenerationList = _run_with_core(args, lambda core, _: core.list_generations(args.limit, args.status))  # type: ignore[assignment]
    lines = [
        f"{job.job_id}  {job.status:<16} {job.created_at}  {usd(job.cost_usd):<9} {job.output_path or job.prompt or ''}"
        + (f"  ({job.note})" if job.note else "")
        for job in listing.jobs
    ]
    if not listing.jobs:
        note(args, "alice-mcp: no jobs in the ledger yet")
    emit(args, listing, "\n".join(lines))
    return 0


def job(args: argparse.Namespace) -> int:
    """One job's status; ``--wait`` waits for it (resuming it or retrying its download), ``--cancel`` cancels it."""

    def call(core, sink):  # type: ignore[no-untyped-def]
        if args.cancel:
            return core.cancel_generation(args.job_id)
        if args.wait:
            return core.get_generation(args.job_id, args.wait, sink)
        return core.generation_status(args.job_id)

    status: GenerationStatus = _run_with_core(args, call)  # type: ignore[assignment]
    for line in soundtrack_lines(status):
        note(args, line)
    if status.status != "completed":
        note(args, f"alice-mcp: job {status.job_id} is {status.status}: {status.message}")
    emit(
        args,
        status,
        (status.output_path or "") if status.status == "completed" else f"{status.status}: {status.message}",
    )
    return JOB_EXIT_CODES.get(status.status, 0)


def soundtrack_lines(status: GenerationStatus) -> list[str]:
    """A soundtrack's parts for the person at the terminal: each window and cue, its span, status and cost."""
    report = status.soundtrack
    if report is None:
        return []
    lines = [f"soundtrack: {report.parts_done} of {report.parts_total} parts done, {report.start:g}-{report.end:g} s"]
    for kind, parts in (("window", report.windows), ("cue", report.cues)):
        for part in parts:
            tail = f"  ({part.error})" if part.error else ""
            lines.append(
                f"  {kind} {part.index:<3} {part.start:7.2f}-{part.end:<7.2f} s  {part.status:<8} "
                f"{usd(part.cost_usd):<9} {part.job_id or ''}{tail}"
            )
    return lines


JOB_EXIT_CODES = {"failed": 5, "submit_unknown": 5, "cancelled": 7}
"""`alice-mcp job`: a job that ended badly is reported with the exit code of its kind of failure (else 0)."""


def doctor(args: argparse.Namespace) -> int:
    from alice_mcp.cli.doctor import render_text, run_checks

    report = run_checks()
    emit(args, report, render_text(report))
    return 0 if report.ok else 4


def serve(args: argparse.Namespace) -> int:
    """Run the MCP server (stdio, or streamable HTTP) until the client disconnects or Ctrl-C."""
    _apply_allowed_dirs(getattr(args, "allowed_dirs", None))
    if args.transport == "http":
        from alice_mcp.mcp.http import run_http

        run_http(args.host, args.port, args.path, allow_remote=args.allow_remote)
        return 0
    from alice_mcp.mcp.server import run_stdio

    run_stdio()
    return 0


def _apply_allowed_dirs(dirs: list[str] | None) -> None:
    """``serve --allowed-dirs A B``: the folders become ``ALICE_ALLOWED_DIRS`` for this process.

    A value a host left unsubstituted (``${user_config.allowed_dirs}``) or empty is dropped, like every setting's
    placeholder; no folder left means the setting (or its default) applies.
    """
    import os

    kept = [d for d in dirs or [] if d.strip() and "${" not in d]
    if dirs and len(kept) != len(dirs):
        note(argparse.Namespace(), "alice-mcp: ignoring --allowed-dirs values the host left unsubstituted or empty")
    if kept:
        os.environ["ALICE_ALLOWED_DIRS"] = os.pathsep.join(kept)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "serve": serve,
    "add-audio": add_audio,
    "text-to-audio": text_to_audio,
    "generate-video": generate_video,
    "regenerate": regenerate,
    "presets": presets,
    "estimate": estimate,
    "doctor": doctor,
    "jobs": jobs,
    "job": job,
}

"""The ``alice-mcp`` command line. ``alice-mcp`` (or ``alice-mcp serve``) runs the MCP server over stdio.

Subcommands: ``serve`` (stdio, or ``--transport http``), ``add-audio VIDEO``, ``text-to-audio``, ``generate-video``,
``regenerate ID WINDOW...``, ``presets``, ``estimate``, ``jobs``, ``job ID``, ``doctor``. Generation parameters become flags derived from the parameter models
(:mod:`alice_mcp.cli.flags`). Progress goes to stderr, the result (a path, or JSON with ``--json``) to stdout.

Exit codes: 0 done · 1 bug in alice-mcp · 2 usage (bad flags) · 3 input refused (bad value, missing file, unknown
preset) · 4 configuration (FAL_KEY, settings, folders; ``doctor`` found a problem) · 5 fal refused or failed the job ·
6 the result could not be written · 7 the job was cancelled (elsewhere) · 130 interrupted (a job queued at fal is
cancelled; one fal already runs is kept, as it may still be billed).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Sequence, get_args

from alice_mcp import __version__

EXIT_OK, EXIT_BUG, EXIT_USAGE, EXIT_INPUT, EXIT_CONFIG, EXIT_FAL, EXIT_OUTPUT, EXIT_CANCELLED = 0, 1, 2, 3, 4, 5, 6, 7
EXIT_INTERRUPTED = 130

log = logging.getLogger("alice_mcp.cli.main")


def build_parser(*, serve_only: bool = False) -> argparse.ArgumentParser:
    """The whole command line; ``serve_only``: just ``serve`` (what plain ``alice-mcp``, as hosts launch it, needs:
    the other commands' flags are not built, so the server starts sooner)."""
    from alice_mcp.mcp.http import DEFAULT_HOST, DEFAULT_PATH, DEFAULT_PORT

    parser = argparse.ArgumentParser(
        prog="alice-mcp",
        description="Add generated, synchronized audio to video with fal.ai MMAudio V2 (MCP server and CLI).",
        epilog="Exit codes: 0 ok, 1 bug, 2 usage, 3 input, 4 config, 5 fal, 6 output, 7 cancelled, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"alice-mcp {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the MCP server (stdio by default; the command's default)")
    serve.add_argument(
        "--transport", choices=("stdio", "http"), default="stdio", help="stdio (for MCP hosts) or streamable HTTP"
    )
    serve.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"HTTP: interface to listen on (default {DEFAULT_HOST}, loopback only; IPv6 in brackets, e.g. [::1])",
    )
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"HTTP: port (default {DEFAULT_PORT})")
    serve.add_argument("--path", default=DEFAULT_PATH, help=f"HTTP: endpoint path (default {DEFAULT_PATH})")
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="HTTP: allow a non-loopback --host: NO authentication, anyone who reaches it can spend your fal credit and upload readable videos",
    )
    serve.add_argument(
        "--allowed-dirs",
        nargs="*",
        default=None,
        metavar="DIR",
        help="folders local videos may be read from (overrides ALICE_ALLOWED_DIRS; for hosts that pass a folder "
        "list as arguments, e.g. an MCP Bundle's directory picker)",
    )
    serve.set_defaults(verbose=False)
    if serve_only:
        return parser

    from alice_mcp.cli.flags import add_model_flags
    from alice_mcp.data.kling_params import KlingVideoSettings
    from alice_mcp.data.params import AudioSettings, PipelineOptions, TimelineOptions
    from alice_mcp.engine.models import JobStatusName

    def paid(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument(
            "--output", metavar="PATH", help="file name or path inside the output folder (ALICE_OUTPUT_DIR)"
        )
        sub.add_argument(
            "--yes",
            action="store_true",
            help="approve a cost above ALICE_CONFIRM_SPEND_ABOVE_USD without "
            "asking (otherwise you are asked on a terminal, and it is refused without one)",
        )
        if name != "generate-video":  # Kling takes no seed, so its results are never cached
            sub.add_argument(
                "--force",
                action="store_true",
                help="generate again (and pay) even if the same request with the same explicit --seed was made before",
            )
        _common(sub)
        return sub

    add_audio = paid("add-audio", "generate audio for a video and save the video with it (paid)")
    add_audio.add_argument("video", metavar="VIDEO", help="local path, ~/path, file:// URI or https:// URL")
    add_audio.add_argument("--preset", help="a preset id (see `alice-mcp presets`); explicit flags win")
    add_audio.add_argument(
        "--model",
        action="append",
        help='the video-to-audio model (short name or fal endpoint id; default "mmaudio-v2"); repeat it to compare '
        "models (one take each); the MCP tool list_models describes them",
    )
    add_audio.add_argument("--takes", type=int, default=1, help="how many variants, 1-4 (one quote for all)")
    add_audio.add_argument(
        "--model-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a control only this model has, by its fal field name; VALUE is JSON or plain text "
        "(e.g. background_music_prompt=calm, asmr_mode=true); repeatable",
    )
    add_audio.set_defaults(
        table_fields=add_model_flags(
            add_audio,
            AudioSettings,
            title="generation parameters",
            defaults_text={"duration": "the clip from --start-time to its end (or --end-time), any length"},
        ),
        option_fields=add_model_flags(add_audio, PipelineOptions, title="media options"),
        timeline_fields=add_model_flags(
            add_audio,
            TimelineOptions,
            title="soundtrack of any length (without --duration; --segments and --cues take JSON lists)",
        ),
    )

    text_audio = paid("text-to-audio", "generate a sound clip (FLAC) from text alone (paid)")
    text_audio.add_argument("--preset", help="a preset id (see `alice-mcp presets`); explicit flags win")
    text_audio.set_defaults(
        table_fields=add_model_flags(
            text_audio, AudioSettings, title="generation parameters", skip=("mask_away_clip",)
        ),
        option_fields=add_model_flags(text_audio, PipelineOptions, title="media options", only=("quality", "stems")),
    )

    video = paid("generate-video", "generate a silent video from text with Kling v2.1 (paid: $1.40 per 5 s)")
    video.set_defaults(table_fields=add_model_flags(video, KlingVideoSettings, title="video parameters"))

    regenerate = commands.add_parser(
        "regenerate",
        help="redo some windows of a finished soundtrack (paid for those windows alone; saved as a new file)",
        description="Redo only some windows of a finished soundtrack (an add-audio job of many windows), e.g. the "
        "windows on either side of a seam whose step_db is large, or a window that failed. Every other window and "
        "cue is kept (not paid again); the soundtrack is joined again and saved as a new file (a new job).",
    )
    regenerate.add_argument("job_id", metavar="ID", help="the soundtrack's job id (see `alice-mcp jobs`)")
    regenerate.add_argument(
        "windows",
        metavar="WINDOW",
        nargs="+",
        help="a window by its index (0, 1, ... as in `alice-mcp job ID --json`: soundtrack.windows) or by a time "
        "inside it, e.g. 12.5s",
    )
    regenerate.add_argument(
        "--yes",
        action="store_true",
        help="approve a cost above ALICE_CONFIRM_SPEND_ABOVE_USD without asking (otherwise you are asked on a "
        "terminal, and it is refused without one)",
    )
    _common(regenerate)

    _common(commands.add_parser("presets", help="list the audio style presets"))

    estimate = commands.add_parser("estimate", help="estimate the cost of generations (free, offline)")
    estimate.add_argument("--duration", type=float, help="seconds per generation")
    estimate.add_argument("--video", help="a local video whose length sets the duration")
    estimate.add_argument(
        "--start-time", type=float, default=0.0, help="with --video: where the soundtrack would start (s)"
    )
    estimate.add_argument("--count", type=int, default=1, help="how many generations (default 1)")
    estimate.add_argument("--model", help='"mmaudio-v2" (default), "mmaudio-v2/text-to-audio" or "kling"')
    _common(estimate)

    jobs = commands.add_parser("jobs", help="list recent jobs from the ledger (free, offline)")
    jobs.add_argument("--limit", type=int, default=20, help="how many, newest first (default 20)")
    jobs.add_argument("--status", choices=get_args(JobStatusName), help="only jobs with this status")
    _common(jobs)

    job = commands.add_parser("job", help="one job's status; --wait for its file, --cancel to stop it")
    job.add_argument("job_id", metavar="ID", help="the job id a generation printed (see `alice-mcp jobs`)")
    job.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait up to SECONDS for it (resumes a job left in flight, retries a failed download; never pays again)",
    )
    job.add_argument(
        "--cancel",
        action="store_true",
        help="cancel it at fal (a queued job is not billed; one fal already runs may still be billed, and is kept)",
    )
    _common(job)

    _common(commands.add_parser("doctor", help="check the setup: FAL_KEY, folders, codecs, where logs live"))
    return parser


def _common(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--json", action="store_true", help="print the result (or the error) as JSON on stdout")
    sub.add_argument("-q", "--quiet", action="store_true", help="no progress or notes on stderr")
    sub.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")


def exit_code_for(exc: BaseException) -> int:
    """The documented exit code for an :class:`~alice_mcp.data.errors.AliceError` (by its class)."""
    from alice_mcp.data.errors import ConfigError, FalError, InputError, JobCancelled, OutputError

    for kind, code in (
        (InputError, EXIT_INPUT),
        (ConfigError, EXIT_CONFIG),
        (FalError, EXIT_FAL),
        (OutputError, EXIT_OUTPUT),
        (JobCancelled, EXIT_CANCELLED),
    ):
        if isinstance(exc, kind):
            return code
    if getattr(exc, "code", None) == "bug":  # a job's unexpected exception, reported by the job manager
        return EXIT_BUG
    return EXIT_INPUT  # any other AliceError is a refusal the user can act on


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(serve_only=not argv)
    args = parser.parse_args(argv)
    if args.command is None:  # plain `alice-mcp` is what MCP hosts launch: serve over stdio
        args = parser.parse_args(["serve"])
    command = args.command
    from alice_mcp.adapters.logs import configure_logging

    # The server logs at ALICE_LOG_LEVEL; a command at the terminal stays quiet (warnings only) unless -v.
    if command == "serve" or args.verbose:
        configure_logging(os.environ.get("ALICE_LOG_LEVEL", "INFO"))
    else:
        configure_logging("WARNING")
    from alice_mcp.cli.commands import COMMANDS
    from alice_mcp.data.errors import AliceError

    try:
        return COMMANDS[command](args)
    except AliceError as exc:
        return _fail(args, exc.code, exc.message, exit_code_for(exc))
    except KeyboardInterrupt:
        if command == "serve":  # the server keeps no job of its own running: the ledger resumes them on restart
            print("alice-mcp: stopped (Ctrl-C).", file=sys.stderr)
            return EXIT_INTERRUPTED
        return _fail(
            args,
            "interrupted",
            "Interrupted. A job still queued at fal was cancelled (nothing is billed). A job fal had already started "
            "cannot be stopped for sure: it may still finish and be billed, so it is kept in the ledger (see the "
            "warning above for its file); `alice-mcp jobs` lists it and `alice-mcp job ID --wait` saves its file.",
            EXIT_INTERRUPTED,
        )
    except Exception as exc:
        log.exception("bug in `alice-mcp %s`", command)
        message = f"Internal error in alice-mcp ({type(exc).__name__}); this is a bug. The traceback is above (stderr)."
        return _fail(args, "bug", message, EXIT_BUG)


def _fail(args: argparse.Namespace, code: str, message: str, exit_code: int) -> int:
    """Say what went wrong on stderr (and as JSON on stdout with ``--json``); return ``exit_code``."""
    print(f"alice-mcp: error: {message}", file=sys.stderr)
    if getattr(args, "json", False):
        print(json.dumps({"error": {"code": code, "message": message, "exit_code": exit_code}}, indent=2))
    return exit_code


if __name__ == "__main__":
    raise SystemExit(main())

"""Run the fal twin in the foreground: ``python -m tests.fal_twin [--queue-seconds S] ...``.

Prints shell ``export`` lines for its environment on stdout (then a
``# fal twin ready`` comment), so ``eval "$(python -m tests.fal_twin &)"``-style
use or copy/paste points a real alice-mcp process at it. Ctrl-C (SIGINT) or
SIGTERM stops it cleanly.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading

from . import FalTwin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fal_twin", description=__doc__.splitlines()[0])
    parser.add_argument("--queue-seconds", type=float, default=1.0)
    parser.add_argument("--run-seconds", type=float, default=3.0)
    parser.add_argument("--latency-seconds", type=float, default=0.0)
    parser.add_argument("--uplink-bytes-per-second", type=float, default=None)
    parser.add_argument("--result-video", choices=["reencode", "copy"], default="reencode")
    parser.add_argument("--validate-at", choices=["runner", "submit"], default="runner")
    parser.add_argument("--inprogress-cancel", choices=["honor", "ignore"], default="honor")
    parser.add_argument("--key", default="twin-key", help="FAL_KEY value to export")
    args = parser.parse_args(argv)

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with FalTwin(
        key=args.key,
        queue_seconds=args.queue_seconds,
        run_seconds=args.run_seconds,
        latency_seconds=args.latency_seconds,
        uplink_bytes_per_second=args.uplink_bytes_per_second,
        result_video=args.result_video,
        validate_at=args.validate_at,
        inprogress_cancel=args.inprogress_cancel,
    ) as twin:
        for name, value in twin.env.items():
            print(f"export {name}={shlex.quote(value)}")
        print("# fal twin ready (Ctrl-C to stop)", flush=True)
        while not stop.wait(0.5):
            pass
    print("# fal twin stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

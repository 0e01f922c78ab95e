"""Render the core's progress events on stderr for the command line.

On a terminal: one bar line redrawn in place, with the time since the command started
(``[#######-------------]  35%  0:07  Queued at fal (position 1)``); the clock keeps ticking between events.
Anywhere else (a pipe, a log file, CI): plain lines, one per stage change or new kind of message; updates of the same
kind (a byte count, a queue position, a step number) at most once per second, so logs stay readable. The percentage
never goes backwards. stdout is never touched.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from typing import TextIO

from alice_mcp.data.progress import Progress, overall_percent

BAR_WIDTH = 24
LINE_INTERVAL_S = 1.0
TICK_S = 1.0
_NUMBERS = re.compile(r"\d+(?:\.\d+)?")


class ProgressRenderer:
    """An async progress sink (``await renderer(event)``); call :meth:`close` when the job ends."""

    def __init__(self, stream: TextIO, *, tty: bool | None = None, enabled: bool = True) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.enabled = enabled
        self._percent = 0.0
        self._bar_open = False
        self._last_stage: str | None = None
        self._last_message: str | None = None
        self._last_line_at = 0.0
        self._started = time.monotonic()
        self._ticker: asyncio.Task[None] | None = None
        self._announced: str | None = None

    async def __call__(self, event: Progress) -> None:
        if not self.enabled:
            return
        if event.job_id is not None and event.job_id != self._announced:
            self._announce(event.job_id)
        self._percent = max(self._percent, overall_percent(event))
        if self.tty:
            self._draw_bar(event.message)
            if self._ticker is None:
                self._ticker = asyncio.get_running_loop().create_task(self._tick())
        else:
            self._write_line(event)
        self._last_stage, self._last_message = event.stage, event.message

    def _draw_bar(self, message: str) -> None:
        filled = int(round(BAR_WIDTH * self._percent / 100))
        head = f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {self._percent:3.0f}%  {self.elapsed()}  "
        width = shutil.get_terminal_size((80, 20)).columns - 1
        text = (head + message)[: max(width, len(head))]
        self.stream.write("\r\x1b[2K" + text)
        self.stream.flush()
        self._bar_open = True

    def _write_line(self, event: Progress) -> None:
        now = time.monotonic()
        new_kind = event.stage != self._last_stage or _shape(event.message) != _shape(self._last_message or "")
        if not new_kind and (event.message == self._last_message or now - self._last_line_at < LINE_INTERVAL_S):
            return
        self.stream.write(f"[{self._percent:3.0f}% {self.elapsed()}] {event.message}\n")
        self.stream.flush()
        self._last_line_at = now

    def _announce(self, job_id: str) -> None:
        """The job's id on a line of its own, as soon as it is known: if this process dies, the job is not lost."""
        self.close()
        self.stream.write(
            f"alice-mcp: job {job_id} started (if this command is stopped: alice-mcp job {job_id} --wait 60)\n"
        )
        self.stream.flush()
        self._announced = job_id

    async def _tick(self) -> None:
        """Redraw the bar once a second so the clock moves while fal is quiet."""
        while True:
            await asyncio.sleep(TICK_S)
            if self._bar_open and self._last_message is not None:
                self._draw_bar(self._last_message)

    def elapsed(self) -> str:
        """Time since the renderer was made, as ``m:ss`` (``h:mm:ss`` past an hour)."""
        seconds = int(time.monotonic() - self._started)
        hours, rest = divmod(seconds, 3600)
        return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"

    def close(self) -> None:
        """End the bar line (if one is drawn) so later output starts on a fresh line."""
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        if self._bar_open:
            self.stream.write("\n")
            self.stream.flush()
            self._bar_open = False


def _shape(message: str) -> str:
    """A message with its numbers blanked: updates of one counter share a shape."""
    return _NUMBERS.sub("#", message)

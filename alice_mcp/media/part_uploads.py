"""The upload files of a soundtrack's parts, made while the parts run: every part that needs a proxy gets it from
ONE decoding pass over the span (:func:`alice_mcp.media.proxy_pass.write_proxies`), and each part can be uploaded
and submitted as soon as its own file is closed, while the pass goes on.

:class:`PartUploads` is made for the parts still to send (on a resume, only those: parts fal has or finished are
never given an upload again), runs the pass (:meth:`PartUploads.run`, a task beside the parts) and hands each part
its file (:meth:`PartUploads.file_for`). A part that needs no re-encoding (a small stream-copied cut starting on a
keyframe) is cut alone when it asks; so is a part the pass did not make (its file was removed, the pass failed, or
it was not in the list): a pass over only what is missing. Files live in the caller's work folder;
:meth:`PartUploads.discard` removes a part's file once the part is done.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

import anyio

from alice_mcp.data.progress import ProgressSink, notify
from alice_mcp.media.pipeline import in_thread, prepare_upload
from alice_mcp.media.plan import MediaPlan
from alice_mcp.media.soundtrack_pipeline import part_upload_plan

if TYPE_CHECKING:
    from alice_mcp.media.proxy_pass import PassReport, ProxyJob

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PartSpan:
    """A part that needs an upload: its key (``w3``, ``c0``) and its span of the clip (s, clip clock)."""

    key: str
    start: float
    end: float


class PartUploads:
    """The uploads of ``parts`` of the clip ``whole.source``, made in ``folder`` (see the module docstring).

    ``slots`` limits how many decoders run at once in this process (the pass holds one for its whole length; a part
    made alone holds one while it is made)."""

    def __init__(self, whole: MediaPlan, parts: Sequence[PartSpan], folder: Path, slots: anyio.CapacityLimiter) -> None:
        self.whole = whole
        self.parts = {p.key: p for p in parts}
        self.folder = folder
        self.slots = slots
        self.report: Optional[PassReport] = None
        self._plans: dict[str, MediaPlan] = {}
        self._planned = anyio.Event()
        self._ready = {key: anyio.Event() for key in self.parts}
        self._files: dict[str, Path] = {}
        self._in_pass: set[str] = set()

    async def run(self, progress: ProgressSink | None = None) -> None:
        """Plan each part's upload, then make every proxy in one pass, releasing each part as its file is closed.
        Never raises for a media failure: the parts waiting then make their own upload (and fail there, with the
        reason, if the clip really cannot be read)."""
        from alice_mcp.media.proxy_pass import write_proxies

        try:
            self._plans = await anyio.to_thread.run_sync(self._plan_all)
        except Exception as exc:  # noqa: BLE001 - each part plans (and reports) its own upload instead
            if isinstance(exc, anyio.get_cancelled_exc_class()):
                raise
            log.warning("could not plan the parts' uploads together (%s); each part makes its own", exc)
        jobs = [self._job(key, plan) for key, plan in self._plans.items() if plan.upload_method == "proxy"]
        self._in_pass = {job.key for job in jobs}
        self._planned.set()
        for key in self.parts:
            if key not in self._in_pass:
                self._ready[key].set()
        if not jobs:
            return
        span = max(j.end for j in jobs) - min(j.start for j in jobs)
        log.info("making the uploads of %d parts in one pass over %.1f s of %s", len(jobs), span, self.whole.source)
        await notify(progress, "uploading", f"Making small copies of {len(jobs)} parts in one pass over {span:.0f} s")

        def written(key: str, path: Path) -> None:  # in the pass's thread
            anyio.from_thread.run_sync(self._written, key, path)

        try:
            async with self.slots:
                self.report = await in_thread(
                    write_proxies, Path(self.whole.source), jobs, written, origin=self.whole.origin
                )
            log.info(
                "one pass over %.1f-%.1f s decoded %d frames for %d part uploads",
                self.report.start,
                self.report.end,
                self.report.frames_decoded,
                len(self.report.written),
            )
        except Exception as exc:  # noqa: BLE001 - the parts not yet made make their own upload
            if isinstance(exc, anyio.get_cancelled_exc_class()):
                raise
            log.warning("the one-pass upload of the parts stopped (%s); the rest make their own", exc)
        finally:
            for event in self._ready.values():
                event.set()

    async def file_for(
        self, key: str, start: float, end: float, progress: ProgressSink | None
    ) -> tuple[Path, MediaPlan]:
        """The upload file of part ``key`` (``[start, end)``) and its media plan: the pass's file once it is closed,
        else one made for this part alone."""
        if key in self._ready and not self._ready[key].is_set():
            await notify(progress, "uploading", f"Waiting for the small copy of {start:g}-{end:g} s (one pass)", 0.0)
            await self._planned.wait()
            await self._ready[key].wait()
        made = self._files.get(key)
        if made is not None and made.is_file():
            return made, self._plans[key]
        folder = self.folder / f"alone-{key}"
        folder.mkdir(parents=True, exist_ok=True)
        async with self.slots:
            known = self._plans.get(key)
            plan = (
                known.model_copy()
                if known
                else await anyio.to_thread.run_sync(part_upload_plan, self.whole, start, end)
            )
            path = await prepare_upload(plan, folder, progress)  # a cut FFmpeg cannot write becomes a proxy
        self._files[key] = path
        self._plans[key] = plan
        return path, plan

    def discard(self, key: str) -> None:
        """Remove part ``key``'s upload file (the part is done with it)."""
        path = self._files.pop(key, None)
        if path is not None:
            path.unlink(missing_ok=True)

    def _plan_all(self) -> dict[str, MediaPlan]:
        return {key: part_upload_plan(self.whole, p.start, p.end) for key, p in self.parts.items()}

    def _job(self, key: str, plan: MediaPlan) -> ProxyJob:
        from alice_mcp.media.prepare import PROXY_MAXRATE_KBPS
        from alice_mcp.media.proxy_pass import ProxyJob

        assert plan.proxy_size is not None and plan.proxy_fps
        dest = self.folder / f"{Path(self.whole.source).stem[:40]}-{key}.mp4"
        kbps = plan.proxy_kbps or PROXY_MAXRATE_KBPS
        return ProxyJob(key, plan.start, plan.end, dest, plan.proxy_size, plan.proxy_fps, kbps)

    def _written(self, key: str, path: Path) -> None:
        self._files[key] = path
        self._ready[key].set()

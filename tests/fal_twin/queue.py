"""fal's queue API (reference §3): jobs, status, SSE stream, result, cancel.

Lifecycle of a job (times taken from the state knobs at submit):
``IN_QUEUE`` for ``queue_seconds`` (``queue_position`` counts down 2,1,0),
then ``IN_PROGRESS`` for ``run_seconds`` (log lines appear progressively),
then ``COMPLETED`` -- but never before its output was synthesized (PyAV in
a 2-thread pool, started at submit, so the event loop stays responsive).

Choices for UNVERIFIED behaviour (documented here, asserted by tests):
* Input validation happens ON THE RUNNER by default (``validate_at=
  "runner"``): the submit is accepted (200, request_id), the job completes
  without ``error`` in its status, and the result GET returns fal's 422
  ``{"detail": [...]}``. Evidence: TanStack/ai PR #396 (checked against live
  fal, 2026-03): "invalid jobs go IN_PROGRESS -> COMPLETED, and the real
  error (e.g. 422 validation) only surfaces when calling result()". Such a
  job is never billed: its record (``valid=False``) goes to
  ``state.rejected_submits``, not ``state.submits``.
  ``validate_at="submit"`` returns the 422 from the submit itself.
* Same for model-side input errors: a ``video_url`` the twin cannot fetch
  (anything that is not a live file on v3.fal.media / media.example.test /
  example.com, incl. data: URIs) -> result 422 ``file_download_error``;
  an input that does not decode as video -> 422 ``video_decode_error``.
  ``state.lose_next_inputs(n)``: the stored input of the next n jobs
  vanishes right before the runner fetches it (-> ``file_download_error``).
* Unknown endpoint of a known app (e.g. fal-ai/kling-video/v2.1/pro/
  text-to-video) or unknown app -> 404 at submit, ``{"detail": "Endpoint
  '<id>' not found"}``, nothing enqueued.
* ``fail_next_jobs``: status COMPLETED with ``error``/``error_type``; result
  -> the status code fal documents for that error_type (500 for
  internal_error/runner_server_error, 502/503/504/499/400 per reference
  §3.3), else 422 with a one-entry detail list.
* Cancel: 202 ``{"status": "CANCELLATION_REQUESTED"}`` while queued or in
  progress. A queued job is removed: it is COMPLETED with ``error: "Request
  cancelled by the client"``, ``error_type: "client_cancelled"``, result ->
  499 with that body. A job in progress gets the runner's signal: with
  ``state.inprogress_cancel == "honor"`` (default) it ends the same way; with
  ``"ignore"`` the runner carries on, and the job completes with its output
  (and is billed) as if no cancel had come. Done -> 400 ``{"status":
  "ALREADY_COMPLETED"}``; unknown -> 404 ``{"status": "NOT_FOUND"}``.
* Result before completion -> 400 ``{"detail": "Request is still in
  progress"}``; unknown request id (status/result/stream) -> 404
  ``{"detail": "Request not found"}``.
* ``logs`` is a list when ``?logs=1|true`` and null otherwise; COMPLETED
  carries ``metrics: {"inference_time": <seconds>}``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import json
import math
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from . import foley, schemas, synth
from .common import fal_error, fal_key, fault_result, new_request_id
from .state import SubmitRecord, TwinState
from .storage import FileStore
from .web import Request, Response, json_response

QUEUE_BASE = "https://queue.fal.run"
KNOWN_APPS = ("fal-ai/mmaudio-v2", "fal-ai/kling-video", *{"/".join(e.split("/")[:2]) for e in foley.ENDPOINTS})
#: status codes of fal's request-level error types (reference §3.3)
ERROR_STATUS = {
    "request_timeout": 504,
    "startup_timeout": 504,
    "runner_scheduling_failure": 503,
    "runner_connection_timeout": 503,
    "runner_disconnected": 503,
    "runner_connection_refused": 503,
    "runner_connection_error": 503,
    "runner_incomplete_response": 502,
    "runner_server_error": 500,
    "internal_error": 500,
    "client_disconnected": 499,
    "client_cancelled": 499,
    "bad_request": 400,
}
CANCELLED = ("Request cancelled by the client", "client_cancelled")


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat()


@dataclass
class Job:
    request_id: str
    endpoint: str
    app: str  # owner/alias (+namespace)
    payload: Any
    input: dict | None
    queue_seconds: float
    run_seconds: float
    submitted: float = field(default_factory=time.time)
    generation: int = 0
    detail_422: list | None = None  # runner-side validation failure
    failure: tuple[str, str] | None = None  # forced error (error, error_type)
    cancelled: bool = False
    cancel_ignored: bool = False  # a cancel came while it ran and the runner ignored it
    done: threading.Event = field(default_factory=threading.Event)
    output: dict | None = None
    error: tuple[int, Any, str | None, str | None] | None = None  # (status, detail, status-error, error_type)
    cost_usd: float = 0.0  # what fal bills for it (foley endpoints; set when the output exists)

    @property
    def urls(self) -> dict[str, str]:
        base = f"{QUEUE_BASE}/{self.app}/requests/{self.request_id}"
        return {"response_url": base, "status_url": base + "/status", "cancel_url": base + "/cancel"}

    def _phase(self, now: float) -> str:
        if self.cancelled:
            return "COMPLETED"
        if now < self.submitted + self.queue_seconds:
            return "IN_QUEUE"
        if now < self.submitted + self.queue_seconds + self.run_seconds or not self.done.is_set():
            return "IN_PROGRESS"
        return "COMPLETED"

    def is_completed(self, now: float | None = None) -> bool:
        return self._phase(time.time() if now is None else now) == "COMPLETED"

    def _logs(self, now: float) -> list[dict]:
        if self.detail_422 is not None:
            return []
        start = self.submitted + self.queue_seconds
        steps = int((self.input or {}).get("num_steps", 25))
        what = "video" if self.endpoint == schemas.KLING_T2V else "audio"
        logs = []
        for k in range(1, 6):
            at = start + self.run_seconds * k / 6
            if at <= now or self._phase(now) == "COMPLETED":
                step = max(1, round(steps * k / 5))
                logs.append(
                    {
                        "message": f"Generating {what}: step {step}/{steps}",
                        "level": "INFO",
                        "source": "user",
                        "timestamp": _iso(at),
                    }
                )
        return logs

    def status_json(self, with_logs: bool, now: float | None = None) -> tuple[int, dict]:
        now = time.time() if now is None else now
        phase = self._phase(now)
        body: dict[str, Any] = {"status": phase, "request_id": self.request_id, **self.urls}
        if phase == "IN_QUEUE":
            left = self.submitted + self.queue_seconds - now
            body["queue_position"] = max(0, math.ceil(3 * left / self.queue_seconds) - 1)
        body["logs"] = self._logs(now) if with_logs and phase != "IN_QUEUE" else None
        if phase == "IN_QUEUE":
            body["logs"] = [] if with_logs else None
        if phase == "COMPLETED":
            body["metrics"] = {"inference_time": round(self.run_seconds, 3)}
            err = self.error_pair()
            if err:
                body["error"], body["error_type"] = err
        return (200 if phase == "COMPLETED" else 202), body

    def error_pair(self) -> tuple[str, str] | None:
        if self.cancelled:
            return CANCELLED
        if self.error is not None and self.error[2] is not None:
            return self.error[2], self.error[3] or "internal_error"
        return None

    def result_response(self) -> Response:
        if self.cancelled:
            return fal_error(499, CANCELLED[0], CANCELLED[1], self.request_id)
        if self.error is not None:
            status, detail, _, error_type = self.error
            return fal_error(status, detail, error_type if status != 422 else None, self.request_id)
        return json_response(200, self.output, [("x-fal-request-id", self.request_id)])


def _download_error(url: str) -> tuple[int, Any, None, None]:
    detail = {
        "loc": ["body", "video_url"],
        "msg": "Failed to download the file. Please check if the URL is accessible.",
        "type": "file_download_error",
        "input": url,
    }
    return (422, [detail], None, None)


def _fill_sizes(node: Any, sizes: dict[str, int]) -> None:
    """Set ``file_size`` of every fal ``File`` in ``node`` from the registered files."""
    if isinstance(node, dict):
        if node.get("url") in sizes:
            node["file_size"] = sizes[node["url"]]
        for value in node.values():
            _fill_sizes(value, sizes)
    elif isinstance(node, list):
        for value in node:
            _fill_sizes(value, sizes)


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "on")


class QueueApi:
    def __init__(self, state: TwinState, store: FileStore, tmp_dir: str) -> None:
        self.state = state
        self.store = store
        self.tmp_dir = tmp_dir
        self.pool = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="fal-twin-job")

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    # ---------------------------------------------------------------- submit
    async def submit(self, req: Request, endpoint: str, *, sync: bool = False) -> Any:
        state = self.state
        fault = state.take_fault("submit", req.path)
        if fault is not None and fault.mode not in ("reset", "timeout", "slow"):
            return fault_result(fault)
        key, err = fal_key(req, state)
        if err:
            return err
        raw = await req.body()
        if endpoint not in schemas.SCHEMAS:
            return fal_error(404, f"Endpoint '{endpoint}' not found")
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError as exc:
            return json_response(422, {"detail": schemas.json_decode_error(raw, exc)})  # type: ignore[arg-type]
        clean, detail = schemas.validate(endpoint, payload, state.schema_overrides)
        if detail is not None and state.validate_at == "submit":
            return json_response(422, {"detail": detail})
        job = self._enqueue(req, endpoint, payload, clean, detail)
        if fault is not None and fault.mode == "slow":  # enqueued (and billed) now; the answer arrives late
            await asyncio.sleep(fault.hang_seconds)
            fault = None
        if fault is not None:
            return fault_result(fault)  # reset/timeout AFTER the job was enqueued and billed
        if sync:
            while not job.is_completed():
                await asyncio.sleep(0.02)
            return job.result_response()
        _, body = job.status_json(False)
        body = {
            "status": "IN_QUEUE",
            "request_id": job.request_id,
            **job.urls,
            "queue_position": body.get("queue_position", 0),
        }
        return json_response(200, body, [("x-fal-request-id", job.request_id)])

    def _enqueue(self, req: Request, endpoint: str, payload: Any, clean: dict | None, detail: list | None) -> Job:
        state = self.state
        parts = endpoint.split("/")
        job = Job(
            new_request_id(),
            endpoint,
            "/".join(parts[:2]),
            payload,
            clean,
            float(state.queue_seconds),
            0.0 if detail else float(state.run_seconds),
            generation=state.generation,
            detail_422=detail,
        )
        if detail is None:
            failure = state.pop_failure()
            job.failure = (failure.error, failure.error_type) if failure else None
        headers = {k: ("<redacted>" if k == "authorization" else v) for k, v in req.headers.items()}
        with state.lock:
            state.jobs[job.request_id] = job
            state.add_submit(SubmitRecord(endpoint, payload, job.request_id, headers, time.time(), detail is None))
        self.pool.submit(self._work, job)
        return job

    # --------------------------------------------------------------- worker
    def _work(self, job: Job) -> None:
        try:
            self._compute(job)
        except Exception as exc:  # twin bug or unexpected media issue
            job.error = (500, "Internal Server Error", f"Internal error: {exc}", "internal_error")
        finally:
            job.done.set()

    def _compute(self, job: Job) -> None:
        if job.detail_422 is not None:
            job.error = (422, job.detail_422, None, None)
            return
        if job.failure is not None:
            error, error_type = job.failure
            status = ERROR_STATUS.get(error_type, 422)
            detail = error if status != 422 else [{"loc": ["body"], "msg": error, "type": error_type}]
            job.error = (status, detail, error, error_type)
            return
        inp = job.input or {}
        if job.endpoint in foley.ENDPOINTS:
            self._foley(job, foley.ENDPOINTS[job.endpoint], inp)
            return
        if job.endpoint == schemas.MMAUDIO:
            src = self._fetch_input(inp["video_url"])
            if src is None:
                job.error = _download_error(inp["video_url"])
                return
            self._produce(
                job,
                "mmaudio_output.mp4",
                "video/mp4",
                "video",
                lambda dst: synth.mmaudio_video(
                    src.path,
                    dst,
                    float(inp["duration"]),
                    inp["seed"],
                    inp["prompt"],
                    self.state.result_video,
                    channels=self.state.result_channels,
                    clicks=self.state.sync_clicks,
                ),
            )
        elif job.endpoint == schemas.TEXT_TO_AUDIO:
            self._produce(
                job,
                "mmaudio_output.flac",
                "audio/flac",
                "audio",
                lambda dst: synth.text_to_audio(dst, float(inp["duration"]), inp["seed"], inp["prompt"]),
            )
        else:
            self._produce(
                job,
                "output.mp4",
                "video/mp4",
                "video",
                lambda dst: synth.kling_video(dst, int(inp["duration"]), inp["aspect_ratio"], len(inp["prompt"])),
            )

    def _fetch_input(self, url: str) -> Any:
        """The runner fetches the job's input (``state.lose_next_inputs`` makes it vanish first)."""
        if self.state.take_input_loss():
            self.store.forget(url)
        return self.store.resolve(url)

    def _foley(self, job: Job, endpoint: foley.FoleyEndpoint, inp: dict) -> None:
        """Run one foley endpoint's runner: its files are registered only if all of them were made."""
        src = self._fetch_input(inp["video_url"])
        if src is None:
            job.error = _download_error(inp["video_url"])
            return
        made: list[tuple[str, str, str]] = []  # (path, url, content type)

        def new_file(name: str, content_type: str, render: Any) -> dict:
            dst = self.store.new_path(os.path.splitext(name)[1])
            made.append((dst, self.store.cdn_url(self.store.new_id(), name), content_type))
            render(dst)
            return {"url": made[-1][1], "content_type": content_type, "file_name": name, "file_size": 0}

        runner = foley.Runner(src.path, new_file, job.run_seconds)
        try:
            output = endpoint.render(runner, inp)
        except (foley.MediaRejected, synth.InputError) as exc:
            for path, _, _ in made:
                os.unlink(path)
            field = getattr(exc, "field", "video_url")
            entry = {"loc": ["body", field], "msg": exc.msg, "type": exc.error_type, "input": inp.get(field)}
            job.error = (422, [entry], None, None)
            return
        if job.generation != self.state.generation:  # twin was reset meanwhile
            for path, _, _ in made:
                os.unlink(path)
            return
        sizes = {url: self.store.register(url, path, ctype).size for path, url, ctype in made}
        _fill_sizes(output, sizes)
        job.output, job.cost_usd = output, round(runner.cost_usd, 6)

    def _produce(self, job: Job, name: str, content_type: str, key: str, render: Any) -> None:
        dst = self.store.new_path(os.path.splitext(name)[1])
        try:
            render(dst)
        except synth.InputError as exc:
            os.unlink(dst)
            job.error = (
                422,
                [
                    {
                        "loc": ["body", "video_url"],
                        "msg": exc.msg,
                        "type": exc.error_type,
                        "input": (job.input or {}).get("video_url"),
                    }
                ],
                None,
                None,
            )
            return
        if job.generation != self.state.generation:  # twin was reset meanwhile
            os.unlink(dst)
            return
        url = self.store.cdn_url(self.store.new_id(), name)
        sf = self.store.register(url, dst, content_type)
        job.output = {key: {"url": url, "content_type": content_type, "file_name": name, "file_size": sf.size}}

    # ------------------------------------------------------- status & result
    def _find(self, app: str, request_id: str) -> Job | None:
        job = self.state.job(request_id)
        return job if job is not None and job.app == app else None

    async def status(self, req: Request, app: str, request_id: str) -> Response:
        _, err = fal_key(req, self.state)
        if err:
            return err
        job = self._find(app, request_id)
        if job is None:
            return fal_error(404, "Request not found", request_id=request_id)
        code, body = job.status_json(_truthy(req.query.get("logs")))
        return json_response(code, body, [("x-fal-request-id", request_id)])

    async def stream(self, req: Request, app: str, request_id: str) -> Response:
        _, err = fal_key(req, self.state)
        if err:
            return err
        job = self._find(app, request_id)
        if job is None:
            return fal_error(404, "Request not found", request_id=request_id)
        with_logs = _truthy(req.query.get("logs"))

        async def events():
            last, last_sent = None, time.monotonic()
            while True:
                _, body = job.status_json(with_logs)
                text = json.dumps(body)
                if text != last:
                    last, last_sent = text, time.monotonic()
                    yield f"data: {text}\n\n".encode()
                elif time.monotonic() - last_sent > 15:
                    last_sent = time.monotonic()
                    yield b": keep-alive\n\n"
                if body["status"] == "COMPLETED":
                    return
                await asyncio.sleep(0.05)

        return Response(
            200,
            headers=[
                ("content-type", "text/event-stream"),
                ("cache-control", "no-cache"),
                ("x-fal-request-id", request_id),
            ],
            stream=events(),
        )

    async def result(self, req: Request, app: str, request_id: str) -> Response:
        _, err = fal_key(req, self.state)
        if err:
            return err
        job = self._find(app, request_id)
        if job is None:
            return fal_error(404, "Request not found", request_id=request_id)
        if not job.is_completed():
            return fal_error(400, "Request is still in progress", request_id=request_id)
        return job.result_response()

    async def cancel(self, req: Request, app: str, request_id: str) -> Any:
        fault = self.state.take_fault("cancel", req.path)
        if fault is not None and fault.mode not in ("reset", "timeout"):
            return fault_result(fault)
        _, err = fal_key(req, self.state)
        if err:
            return err
        job = self._find(app, request_id)
        if job is None:
            resp = json_response(404, {"status": "NOT_FOUND"})
        elif job.is_completed():
            resp = json_response(400, {"status": "ALREADY_COMPLETED"})
        else:
            running = job.status_json(False)[1]["status"] == "IN_PROGRESS"
            if not running or self.state.inprogress_cancel == "honor":
                job.cancelled = True
            else:  # the runner ignores the signal: the job finishes with its output
                job.cancel_ignored = True
            with self.state.lock:
                self.state.cancels.append(request_id)
            resp = json_response(202, {"status": "CANCELLATION_REQUESTED"})
        return fault_result(fault) if fault is not None else resp  # reset/timeout after the cancel took effect

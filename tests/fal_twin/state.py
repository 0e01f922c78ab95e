"""Observable, thread-safe state of a fal twin: records, faults and knobs.

Contract
--------
* Everything a test may want to assert on lives here: ``submits``,
  ``uploads``, ``requests``, ``cancels``, ``jobs``, plus counters.
* Lists are appended under ``lock``; readers get consistent snapshots by
  taking ``with state.lock:`` (or just read: appends are atomic in CPython).
* Knobs (``queue_seconds``, ``run_seconds``, ``latency_seconds``,
  ``uplink_bytes_per_second``, ``valid_keys``, ``forbidden_keys``,
  ``schema_overrides``, ``result_video``, ``result_channels`` (1 = a mono AAC
  track, 2 = stereo), ``sync_clicks`` (click under every flash of the video,
  see synth), ``validate_at``, ``inprogress_cancel``) are plain
  attributes read at the moment each request/job needs them, so tests may
  change them at any time; ``reset()`` restores the constructor values.
* ``inprogress_cancel``: what the runner does with a cancel signal for a job
  already IN_PROGRESS (reference §3.4/§3.5: fal only signals the runner, and a
  hosted model may ignore it). ``"honor"`` (default): the job ends COMPLETED
  with ``client_cancelled``. ``"ignore"``: it runs to its end, delivers its
  output and is billed. Either way the cancel answers 202
  ``CANCELLATION_REQUESTED``; a queued job is always removed.
  :meth:`TwinState.billed_outputs` lists the jobs fal finished with output
  (what fal bills: "you pay only for successful outputs").
"""

from __future__ import annotations

import collections
import copy
import threading
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

FAULT_KINDS = frozenset({"token", "upload", "submit", "status", "result", "download", "cancel", "stream"})
FAULT_MODES = frozenset({400, 404, 410, 429, 500, 502, 503, 504, "reset", "timeout", "slow"})

#: What a runner does with a cancel signal for a job in progress (see module docstring).
INPROGRESS_CANCEL = ("honor", "ignore")

#: Endpoints whose requested ``duration`` is billed per second ($0.001/s).
MMAUDIO_ENDPOINTS = ("fal-ai/mmaudio-v2", "fal-ai/mmaudio-v2/text-to-audio")


@dataclass
class Fault:
    """One injected fault: the next ``times`` requests of ``kind`` get ``mode``.

    ``opts``: ``app=True`` (502/503/504 look like the app's error: JSON body
    with ``x-fal-request-id``, not retried by fal_client), ``error_type=...``
    (override the JSON error_type), ``hang_seconds=...`` (for "timeout",
    default 30; for "slow": the normal answer comes after that long, a slow
    network or a busy edge), ``path_contains=...`` (only match requests whose path
    contains this substring), ``detail=...`` (override the JSON detail).
    """

    kind: str
    mode: int | str
    times: int = 1
    opts: dict[str, Any] = field(default_factory=dict)
    hits: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; use one of {sorted(FAULT_KINDS)}")
        if self.mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {self.mode!r}; use one of {FAULT_MODES}")

    @property
    def remaining(self) -> int:
        return self.times - self.hits

    @property
    def hang_seconds(self) -> float:
        return float(self.opts.get("hang_seconds", 30.0))


class RequestRecord(NamedTuple):
    """``status_code`` is an int, or "reset"/"timeout" for injected drops."""

    method: str
    host: str
    path: str
    status_code: int | str


@dataclass
class SubmitRecord:
    """A submit that got a request_id.

    ``valid`` is False when the payload failed validation on the runner
    (``validate_at="runner"``): such a job is enqueued (it has a request_id
    and completes with a 422 result) but is never billed, so its record goes
    to ``TwinState.rejected_submits`` instead of ``submits``.
    """

    endpoint: str
    payload: Any
    request_id: str
    headers: dict[str, str]
    time: float
    valid: bool = True


@dataclass
class UploadRecord:
    kind: str  # "cdn" | "multipart" | "storage"
    file_name: str
    content_type: str
    size: int
    url: str
    lifecycle: dict | None
    time: float = field(default_factory=time.time)


@dataclass
class _Failure:
    error: str
    error_type: str


class TwinState:
    """All mutable twin state. See module docstring."""

    def __init__(
        self,
        *,
        queue_seconds: float = 0.1,
        run_seconds: float = 0.3,
        latency_seconds: float = 0.0,
        uplink_bytes_per_second: float | None = None,
        valid_keys: set[str] | None = None,
        forbidden_keys: set[str] | None = None,
        schema_overrides: dict | None = None,
        result_video: str = "reencode",
        result_channels: int = 2,
        sync_clicks: bool = False,
        validate_at: str = "runner",
        require_key_format: bool = False,
        cdn_token_ttl_seconds: float = 3600.0,
        inprogress_cancel: str = "honor",
    ) -> None:
        self._ctor = dict(
            queue_seconds=queue_seconds,
            run_seconds=run_seconds,
            latency_seconds=latency_seconds,
            uplink_bytes_per_second=uplink_bytes_per_second,
            valid_keys=None if valid_keys is None else set(valid_keys),
            forbidden_keys=set(forbidden_keys or ()),
            schema_overrides=copy.deepcopy(schema_overrides or {}),
            result_video=result_video,
            result_channels=result_channels,
            sync_clicks=sync_clicks,
            validate_at=validate_at,
            require_key_format=require_key_format,
            cdn_token_ttl_seconds=cdn_token_ttl_seconds,
            inprogress_cancel=inprogress_cancel,
        )
        self.lock = threading.RLock()
        self.generation = 0
        #: issued CDN tokens (token -> expiry epoch). Deliberately NOT cleared
        #: by reset(): a long-lived client keeps its cached token, as on fal.
        self.cdn_tokens: dict[str, float] = {}
        self._apply_ctor()

    # ------------------------------------------------------------------ reset
    def _apply_ctor(self) -> None:
        for name, value in self._ctor.items():
            setattr(self, name, copy.deepcopy(value))
        if self.result_video not in ("reencode", "copy"):
            raise ValueError("result_video must be 'reencode' or 'copy'")
        if self.validate_at not in ("runner", "submit"):
            raise ValueError("validate_at must be 'runner' or 'submit'")
        if self.inprogress_cancel not in INPROGRESS_CANCEL:
            raise ValueError(f"inprogress_cancel must be one of {INPROGRESS_CANCEL}")
        self.submits: list[SubmitRecord] = []  # billable (valid) submits only
        self.rejected_submits: list[SubmitRecord] = []  # enqueued, then 422 on the runner
        self.uploads: list[UploadRecord] = []
        self.requests: list[RequestRecord] = []
        self.cancels: list[str] = []  # every cancel answered CANCELLATION_REQUESTED (honored or not)
        self.jobs: dict[str, Any] = {}  # request_id -> queue.Job
        self.faults: list[Fault] = []
        self._uploaded_bytes = 0
        self._failures: collections.deque[_Failure] = collections.deque()
        self._input_losses = 0

    def reset(self) -> None:
        """Forget jobs, uploads, records, faults; restore constructor knobs."""
        with self.lock:
            self.generation += 1
            self._apply_ctor()

    # ----------------------------------------------------------------- faults
    def add_fault(self, kind: str | Fault, mode: int | str | None = None, times: int = 1, **opts: Any) -> Fault:
        fault = kind if isinstance(kind, Fault) else Fault(kind, mode, times, opts)  # type: ignore[arg-type]
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def take_fault(self, kind: str, path: str = "") -> Fault | None:
        """Consume one hit of the first pending fault matching ``kind``/``path``."""
        with self.lock:
            for fault in self.faults:
                if fault.kind != kind or fault.remaining <= 0:
                    continue
                needle = fault.opts.get("path_contains")
                if needle and needle not in path:
                    continue
                fault.hits += 1
                return fault
        return None

    # --------------------------------------------------------------- failures
    def fail_next_jobs(
        self, n: int = 1, error: str = "Internal Server Error", error_type: str = "internal_error"
    ) -> None:
        """The next ``n`` accepted (valid) jobs end COMPLETED with this error.

        Their status JSON carries ``error``/``error_type``; their result GET
        returns the error (see ``queue.error_response`` for the status code).
        """
        with self.lock:
            for _ in range(n):
                self._failures.append(_Failure(error, error_type))

    def lose_next_inputs(self, n: int = 1) -> None:
        """fal's storage copy of the next ``n`` job inputs vanishes just before the runner fetches it (after any
        HEAD check the client made): those jobs end with a 422 ``file_download_error`` and are not billed."""
        with self.lock:
            self._input_losses += n

    def take_input_loss(self) -> bool:
        with self.lock:
            if self._input_losses <= 0:
                return False
            self._input_losses -= 1
            return True

    def pop_failure(self) -> _Failure | None:
        with self.lock:
            return self._failures.popleft() if self._failures else None

    # ---------------------------------------------------------------- records
    def log_request(self, method: str, host: str, path: str, status: int | str) -> None:
        with self.lock:
            self.requests.append(RequestRecord(method, host, path, status))

    def add_submit(self, record: SubmitRecord) -> None:
        with self.lock:
            (self.submits if record.valid else self.rejected_submits).append(record)

    def add_upload(self, record: UploadRecord) -> None:
        with self.lock:
            self.uploads.append(record)

    def count_uploaded(self, n: int) -> None:
        with self.lock:
            self._uploaded_bytes += n

    # ---------------------------------------------------------------- queries
    def submit_count(self, endpoint: str | None = None, *, include_rejected: bool = False) -> int:
        """Accepted, billable submits (optionally plus runner-rejected ones)."""
        with self.lock:
            records = self.submits + (self.rejected_submits if include_rejected else [])
            return sum(1 for s in records if endpoint is None or s.endpoint == endpoint)

    def uploaded_bytes(self) -> int:
        """Request-body bytes received by every upload endpoint (incl. parts,
        retried and fault-drained bodies: it measures uplink traffic)."""
        with self.lock:
            return self._uploaded_bytes

    def billed_seconds(self) -> float:
        """Sum of requested ``duration`` (default 8) over billable MMAudio
        submits (both endpoints). Jobs that later error or get
        cancelled are still counted (worst case for the user's wallet)."""
        with self.lock:
            total = 0.0
            for s in self.submits:
                if s.valid and s.endpoint in MMAUDIO_ENDPOINTS:
                    total += float(s.payload.get("duration", 8))
            return total

    def billed_usd(self) -> float:
        """Estimated cost with the published prices (reference §2). Foley endpoints other than MMAudio are billed
        by their own rule once their output exists (``Job.cost_usd``, see ``foley.py``): failures cost nothing."""
        with self.lock:
            usd = self.billed_seconds() * 0.001
            for s in self.submits:
                if s.valid and s.endpoint == "fal-ai/kling-video/v2.1/master/text-to-video":
                    usd += 1.40 + 0.28 * max(0, int(s.payload.get("duration", "5")) - 5)
                elif s.valid and s.request_id in self.jobs:
                    usd += getattr(self.jobs[s.request_id], "cost_usd", 0.0)  # foley endpoints: billed per output
            return usd

    def billed_outputs(self) -> list[str]:
        """Request ids of the billable jobs fal finished WITH output (not cancelled, no error): the results a
        client paid for. A cancel removed from the queue, or honored while running, leaves no output."""
        with self.lock:
            records = list(self.submits)
            jobs = dict(self.jobs)
        return [
            s.request_id
            for s in records
            if (job := jobs.get(s.request_id)) is not None
            and job.is_completed()
            and job.error_pair() is None
            and job.output is not None
        ]

    def job(self, request_id: str) -> Any:
        with self.lock:
            return self.jobs.get(request_id)

    def key_problem(self, key: str) -> tuple[int, str] | None:
        """(status, detail) if ``key`` must be refused, else None."""
        if not key:
            return 401, "No user found for Key ID and Secret"
        if self.require_key_format and ":" not in key:
            return 401, "Invalid Key Authorization header format. Expected '<key_id>:<key_secret>'."
        if key in self.forbidden_keys:
            return 403, "Forbidden: this key may not use this application"
        if self.valid_keys is not None and key not in self.valid_keys:
            return 401, "No user found for Key ID and Secret"
        return None

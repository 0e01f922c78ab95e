"""The fal.ai adapter: the only module that imports ``fal_client``.

It speaks fal's storage and queue protocols (fal-platform reference §3-§4) and turns every fal failure into an
:class:`~alice_mcp.data.errors.AliceError`. Nothing here knows MCP or the CLI.

Billing safety: ``fal_client`` retries a submit on any transport error, including a reset or read timeout after fal
already enqueued (and billed) the job. So :meth:`FalGateway.submit` sends the POST itself and retries only when the
request provably never reached fal's queue (connection not established, 429, ingress 5xx). Any other failure is a
:class:`~alice_mcp.data.errors.SubmitOutcomeUnknown`: at most one paid job per call.

Bounded waits: status, result, cancel and download use our own httpx client (timeouts = ``ALICE_HTTP_TIMEOUT_S``),
with at most ``ALICE_RETRY_ATTEMPTS`` tries and exponential backoff on transient faults (408, 429, 5xx, resets,
timeouts); then :class:`~alice_mcp.data.errors.FalUnavailable` names the job. fal_client's status/result calls would wait
120 s per read (``QUEUE_POLL_TIMEOUT``) and retry ten times, which no caller could bound.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Literal, Optional, cast

import aiofiles
import fal_client
import httpx
from fal_client.client import QUEUE_URL_FORMAT

from alice_mcp.data.errors import (
    AliceError,
    ConfigError,
    DownloadError,
    FalAuthError,
    FalError,
    FalUnavailable,
    FalValidationError,
    SubmitOutcomeUnknown,
)
from alice_mcp.data.params import describe_fal_validation

log = logging.getLogger(__name__)

DOWNLOAD_CHUNK = 256 * 1024
USER_AGENT = "alice-mcp"
STREAM_READ_TIMEOUT_S = 30.0  # fal sends a keep-alive comment on the status stream every 15 s

# Transport failures that happen before a single byte of the request is sent: safe to retry, nothing was billed.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)
# HTTP answers worth asking again: the request did not fail for a reason that will persist.
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
MAX_BACKOFF_S = 8.0


@dataclass(frozen=True)
class Submission:
    """A job fal accepted: its request id and the queue URLs fal returned for it."""

    request_id: str
    status_url: str
    response_url: str
    cancel_url: str


def queue_urls(endpoint: str, request_id: str) -> Submission:
    """The queue URLs of a request, built as fal_client does: owner/alias only, without the endpoint's sub-path."""
    parts = endpoint.strip("/").split("/")
    keep = 3 if parts[0] in ("workflows", "comfy") else 2
    base = f"{QUEUE_URL_FORMAT}{'/'.join(parts[:keep])}/requests/{request_id}"
    return Submission(request_id, base + "/status", base, base + "/cancel")


def _queue_url(candidate: Any, fallback: str) -> str:
    """A queue URL fal returned, if it is an https URL on fal's queue host; else the one we build.

    Our API key goes to these URLs, so a URL pointing anywhere else is never used.
    """
    if isinstance(candidate, str):
        try:
            url = httpx.URL(candidate)
        except (httpx.InvalidURL, TypeError):
            return fallback
        if url.scheme == "https" and url.host == httpx.URL(fallback).host:
            return candidate
    return fallback


@dataclass(frozen=True)
class JobStatus:
    """A fal queue job's state as last seen."""

    state: Literal["queued", "running", "completed"]
    position: Optional[int] = None
    logs: list[str] = field(default_factory=list)
    error: Optional[str] = None
    error_type: Optional[str] = None


def _parse_status(body: dict[str, Any], request_id: str) -> JobStatus:
    """fal's status JSON (from polling or the stream) as a :class:`JobStatus`."""
    state = body.get("status")
    if state == "IN_QUEUE":
        position = body.get("queue_position")
        return JobStatus("queued", position=position if isinstance(position, int) else None)
    logs = [str(entry.get("message", "")) for entry in (body.get("logs") or []) if isinstance(entry, dict)]
    if state == "COMPLETED":
        error = body.get("error")
        return JobStatus("completed", logs=logs, error=str(error) if error else None, error_type=body.get("error_type"))
    if state != "IN_PROGRESS":
        log.warning("fal reported an unknown status %r for request %s; still following it", state, request_id)
    return JobStatus("running", logs=logs)


def _is_ingress_error(response: httpx.Response) -> bool:
    """An nginx 502/503/504 from fal's edge: the request never reached the queue (fal_client uses the same test)."""
    return (
        response.status_code in (502, 503, 504)
        and "x-fal-request-id" not in response.headers
        and "nginx" in response.text
    )


def _detail(response: httpx.Response) -> tuple[Any, Optional[str]]:
    """fal's ``detail`` and ``error_type`` from an error response."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        if "html" in response.headers.get("content-type", "").lower() or text[:1] == "<":
            reason = response.reason_phrase or "error"
            return (
                f"its web front answered with an error page ({response.status_code} {reason}), not an API answer. This is usually temporary: try again in a minute",
                response.headers.get("x-fal-error-type"),
            )
        return text[:300], response.headers.get("x-fal-error-type")
    if isinstance(body, dict):
        return body.get("detail", body), body.get("error_type") or response.headers.get("x-fal-error-type")
    return body, response.headers.get("x-fal-error-type")


def translate_http_error(
    status: int, detail: Any, error_type: Optional[str], *, action: str, endpoint: str, request_id: str | None = None
) -> FalError:
    """One clear :class:`FalError` for an HTTP error fal returned while doing ``action`` (``http_status`` = status)."""
    error = _http_error(status, detail, error_type, action=action, endpoint=endpoint, request_id=request_id)
    error.http_status = status
    return error


def _http_error(
    status: int, detail: Any, error_type: Optional[str], *, action: str, endpoint: str, request_id: str | None
) -> FalError:
    job = f" (fal request {request_id})" if request_id else ""
    if status == 401:
        return FalAuthError(
            "fal rejected the API key (401 Unauthorized). Check FAL_KEY in this server's env block "
            "(keys are at https://fal.ai/dashboard/keys) and restart the host.",
            request_id=request_id,
        )
    if status == 403:
        return FalAuthError(
            f"fal refused access to {endpoint} (403 Forbidden): the key is valid but may not use this model. "
            "Check the key's scope and your fal account's billing at https://fal.ai/dashboard.",
            request_id=request_id,
        )
    if status == 422:
        unreachable = isinstance(detail, list) and any(
            isinstance(item, dict) and item.get("type") == "file_download_error" for item in detail
        )
        return FalValidationError(  # fal does not bill a failed input fetch: the ledger does not count it as spend
            describe_fal_validation(detail),
            code="fal_input_unreachable" if unreachable else None,
            request_id=request_id,
        )
    if status == 404 and request_id:
        return FalError(
            f"fal did not find request {request_id} at {endpoint} (404 Not Found while {action}).",
            code="fal_not_found",
            request_id=request_id,
        )
    if status == 404:
        return FalError(f"fal does not know {endpoint} (404 Not Found while {action}).", code="fal_not_found")
    if status == 429:
        return FalError(f"fal is rate-limiting requests (429) while {action}{job}. Wait a minute and try again.")
    text = detail if isinstance(detail, str) else str(detail)[:300]
    kind = f", {error_type}" if error_type else ""
    return FalError(f"fal answered HTTP {status}{kind} while {action}{job}: {text}", request_id=request_id)


class FalGateway:
    """fal storage and queue operations for one API key. Create it when needed; :meth:`aclose` it when done."""

    def __init__(
        self,
        key: str,
        *,
        http_timeout_s: float = 60.0,
        upload_ttl: str | int | None = "1d",
        retry_attempts: int = 5,
        retry_backoff_s: float = 0.5,
    ) -> None:
        self._key = key
        self._attempts = max(1, retry_attempts)
        self._backoff_s = retry_backoff_s
        self._timeout = httpx.Timeout(http_timeout_s, connect=min(10.0, http_timeout_s))
        self._fal = fal_client.AsyncClient(key=key, default_timeout=http_timeout_s)
        self._http = httpx.AsyncClient(timeout=self._timeout, headers={"User-Agent": USER_AGENT})
        self._lifecycle = (
            # fal_client checks the value (ALICE_UPLOAD_TTL is free text) and raises for one it does not know
            fal_client.StorageSettings(expires_in=cast(Any, upload_ttl)) if upload_ttl not in (None, "never") else None
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def upload_file(self, path: Path) -> str:
        """Upload a local file to fal storage (with the configured expiry); returns its public URL.

        fal_client already retries each request (10 tries) and falls back to a second storage; one more whole attempt
        covers a fault that outlasted both. Nothing is billed by an upload.
        """
        action = f"uploading {path.name} to fal storage"
        for attempt in (1, 2):
            try:
                return await self._fal.upload_file(path, lifecycle=self._lifecycle)
            except Exception as exc:  # fal_client raises many types here; all mean the upload failed
                failure = self._failure(exc, action=action, endpoint="fal storage")
                if attempt == 1 and _is_transient(exc):
                    log.warning("%s failed (%s); trying once more", action, failure.message)
                    await self._backoff(attempt)
                    continue
                if _is_transient(exc):
                    raise FalUnavailable(f"{failure.message} (gave up after retrying; nothing was billed)") from exc
                raise failure from exc
        raise AssertionError("unreachable")

    async def file_is_live(self, url: str) -> bool:
        """Whether fal storage still serves ``url`` (a HEAD request; any answer but 2xx, or no answer, means no).
        Checked before a recorded upload is reused, so a lost copy is uploaded again instead of failing a paid job."""
        try:
            response = await self._http.head(url, follow_redirects=True, timeout=10.0)
        except httpx.HTTPError:
            return False
        return response.is_success

    async def submit(self, endpoint: str, payload: dict[str, Any]) -> Submission:
        """Enqueue one job; returns fal's request id and queue URLs. Never sends a second POST when the first may
        have landed."""
        url = QUEUE_URL_FORMAT + endpoint
        headers = {"Authorization": f"Key {self._key}"}
        attempts = max(2, self._attempts)
        for attempt in range(1, attempts + 1):
            try:
                response = await self._http.post(url, json=payload, headers=headers)
            except _NOT_SENT as exc:
                if attempt == attempts:
                    raise FalError(
                        f"Could not connect to fal to submit the job ({type(exc).__name__}); nothing was billed. Check the network and try again."
                    ) from exc
                await self._backoff(attempt)
                continue
            except httpx.HTTPError as exc:
                raise SubmitOutcomeUnknown(
                    f"The connection to fal failed while submitting the job ({type(exc).__name__}), after the request "
                    "was sent, so fal may have accepted it. It was not re-sent, to avoid paying twice. Check "
                    "https://fal.ai/dashboard/requests before trying again."
                ) from exc
            if response.status_code == 429 or _is_ingress_error(response):
                if attempt == attempts:
                    detail, error_type = _detail(response)
                    raise translate_http_error(
                        response.status_code, detail, error_type, action="submitting", endpoint=endpoint
                    )
                await self._backoff(attempt)
                continue
            if not response.is_success:
                detail, error_type = _detail(response)
                raise translate_http_error(
                    response.status_code, detail, error_type, action="submitting", endpoint=endpoint
                )
            try:
                body = response.json()
                built = queue_urls(endpoint, str(body["request_id"]))
                return Submission(
                    built.request_id,
                    _queue_url(body.get("status_url"), built.status_url),
                    _queue_url(body.get("response_url"), built.response_url),
                    _queue_url(body.get("cancel_url"), built.cancel_url),
                )
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise SubmitOutcomeUnknown(
                    f"fal accepted the submit (HTTP {response.status_code}) but its answer had no request id; "
                    "check https://fal.ai/dashboard/requests before trying again."
                ) from exc
        raise AssertionError("unreachable")

    async def status(self, endpoint: str, job: Submission) -> JobStatus:
        """The job's current state, with its log messages so far."""
        response = await self._queue_call(
            "GET",
            job.status_url,
            params={"logs": "1"},
            action="checking the job's status",
            endpoint=endpoint,
            request_id=job.request_id,
        )
        return _parse_status(_json_object(response, f"fal's status for request {job.request_id}"), job.request_id)

    async def status_stream(self, endpoint: str, job: Submission) -> AsyncIterator[JobStatus]:
        """fal's status stream (server-sent events, reference §3.1): each status as fal reports it, ending after
        COMPLETED. One request and no polling delay. Any failure to open or read it raises :class:`FalError`;
        callers then poll :meth:`status` instead (the stream is an optimisation, never the only way)."""
        headers = {"Authorization": f"Key {self._key}", "Accept": "text/event-stream"}
        timeout = httpx.Timeout(STREAM_READ_TIMEOUT_S, connect=self._timeout.connect)
        try:
            async with self._http.stream(
                "GET", job.status_url.rstrip("/") + "/stream", params={"logs": "1"}, headers=headers, timeout=timeout
            ) as response:
                if not response.is_success:
                    await response.aread()
                    detail, error_type = _detail(response)
                    raise translate_http_error(
                        response.status_code,
                        detail,
                        error_type,
                        action="opening the status stream",
                        endpoint=endpoint,
                        request_id=job.request_id,
                    )
                async for line in response.aiter_lines():
                    if line.startswith("data:"):
                        body = json.loads(line[5:].strip())
                        if isinstance(body, dict):
                            yield _parse_status(body, job.request_id)
        except (httpx.HTTPError, ValueError) as exc:
            raise FalError(
                f"fal's status stream for request {job.request_id} broke ({type(exc).__name__}).",
                request_id=job.request_id,
            ) from exc

    async def result(self, endpoint: str, job: Submission) -> dict[str, Any]:
        """The finished job's output JSON. fal's 422 (input its runner refused) is final.

        A 400/404/410 for a job fal reported finished is not believed at once (the result may lag the status, or an
        edge may answer wrongly): it is asked again with backoff, and if it persists a :class:`FalError` with code
        ``result_unavailable`` and no ``http_status`` is raised, so the billed job is kept (not ``failed``) and
        ``get_generation`` can fetch it later."""
        status = 0
        for attempt in range(1, self._attempts + 1):
            try:
                response = await self._queue_call(
                    "GET",
                    job.response_url,
                    action="fetching the job's result",
                    endpoint=endpoint,
                    request_id=job.request_id,
                )
            except FalError as exc:
                status = getattr(exc, "http_status", 0) or 0
                if status not in (400, 404, 410):
                    raise
                log.warning(
                    "fal answered %d for the result of request %s (attempt %d/%d)",
                    status,
                    job.request_id,
                    attempt,
                    self._attempts,
                )
                if attempt < self._attempts:
                    await self._backoff(attempt)
                continue
            return _json_object(response, f"fal's result for request {job.request_id}")
        raise FalError(
            f"fal reported request {job.request_id} finished, but fetching its result answered HTTP {status} "
            f"{self._attempts} times. The job is kept (fal billed it): call get_generation with its job id later to "
            "fetch the result; it is not paid again.",
            code="result_unavailable",
            request_id=job.request_id,
        )

    async def cancel(self, endpoint: str, job: Submission) -> Literal["requested", "already_completed", "not_found"]:
        """Ask fal to cancel the job. A job fal already finished stays finished (``"already_completed"``)."""
        action = "cancelling the job"
        response = await self._queue_call(
            "PUT", job.cancel_url, action=action, endpoint=endpoint, request_id=job.request_id, raise_for_status=False
        )
        if response.is_success:
            return "requested"
        if response.status_code == 404:
            return "not_found"
        text = response.text[:300]
        if response.status_code == 400 and "ALREADY_COMPLETED" in text:
            return "already_completed"
        detail, error_type = _detail(response)
        raise translate_http_error(
            response.status_code, detail, error_type, action=action, endpoint=endpoint, request_id=job.request_id
        )

    async def download(
        self, url: str, dest: Path, on_progress: Callable[[int, int | None], Awaitable[None]] | None = None
    ) -> int:
        """Stream ``url`` into ``dest`` (bounded memory), retrying transient faults from the start; returns the byte
        count. Raises :class:`DownloadError` (the file stays at fal, so a later retry can still fetch it)."""
        reason = ""
        for attempt in range(1, self._attempts + 1):
            try:
                return await self._download_once(url, dest, on_progress)
            except _RetryableDownload as exc:
                reason = str(exc)
                log.warning("download attempt %d/%d failed: %s", attempt, self._attempts, reason)
                if attempt < self._attempts:
                    await self._backoff(attempt)
        raise DownloadError(f"Downloading the result failed {self._attempts} times (last: {reason}) from {_host(url)}.")

    async def _download_once(
        self, url: str, dest: Path, on_progress: Callable[[int, int | None], Awaitable[None]] | None
    ) -> int:
        received = 0
        try:
            async with self._http.stream("GET", url) as response:
                if response.status_code in RETRYABLE_STATUS:
                    raise _RetryableDownload(f"HTTP {response.status_code}")
                if not response.is_success:
                    raise DownloadError(
                        f"Downloading the result failed: HTTP {response.status_code} from {_host(url)}."
                    )
                total = int(response.headers["content-length"]) if "content-length" in response.headers else None
                async with aiofiles.open(dest, "wb") as out:
                    async for chunk in response.aiter_bytes(DOWNLOAD_CHUNK):
                        await out.write(chunk)
                        received += len(chunk)
                        if on_progress is not None:
                            await on_progress(received, total)
                if total is not None and received != total:
                    raise _RetryableDownload(f"stopped early ({received} of {total} bytes)")
        except httpx.TransportError as exc:
            raise _RetryableDownload(type(exc).__name__) from exc
        except httpx.HTTPError as exc:
            raise DownloadError(f"Downloading the result failed ({type(exc).__name__}) from {_host(url)}.") from exc
        return received

    async def _queue_call(
        self,
        method: str,
        url: str,
        *,
        action: str,
        endpoint: str,
        request_id: str,
        params: dict[str, str] | None = None,
        raise_for_status: bool = True,
    ) -> httpx.Response:
        """One queue API request with bounded retries on transient faults; a non-2xx answer that is not transient
        raises the translated :class:`FalError` (or is returned when ``raise_for_status`` is False)."""
        headers = {"Authorization": f"Key {self._key}"}
        reason = ""
        for attempt in range(1, self._attempts + 1):
            try:
                response = await self._http.request(method, url, params=params, headers=headers)
            except httpx.TransportError as exc:
                reason = type(exc).__name__
            else:
                if response.status_code not in RETRYABLE_STATUS:
                    if response.is_success or not raise_for_status:
                        return response
                    detail, error_type = _detail(response)
                    raise translate_http_error(
                        response.status_code,
                        detail,
                        error_type,
                        action=action,
                        endpoint=endpoint,
                        request_id=request_id,
                    )
                reason = f"HTTP {response.status_code}"
            log.warning("%s for request %s: %s (attempt %d/%d)", action, request_id, reason, attempt, self._attempts)
            if attempt < self._attempts:
                await self._backoff(attempt)
        raise FalUnavailable(
            f"fal kept failing while {action} (fal request {request_id}): {reason}, {self._attempts} attempts.",
            request_id=request_id,
        )

    async def _backoff(self, attempt: int) -> None:
        await asyncio.sleep(min(self._backoff_s * 2 ** (attempt - 1), MAX_BACKOFF_S) * random.uniform(0.5, 1.5))

    def _failure(self, exc: BaseException, *, action: str, endpoint: str, request_id: str | None = None) -> AliceError:
        """Map whatever fal_client raised into one :class:`AliceError` (never echoing the key)."""
        if isinstance(exc, AliceError):
            return exc
        if isinstance(exc, fal_client.FalClientHTTPError):
            return translate_http_error(
                exc.status_code, exc.message, exc.error_type, action=action, endpoint=endpoint, request_id=request_id
            )
        if isinstance(exc, httpx.HTTPStatusError):
            detail, error_type = _detail(exc.response)
            return translate_http_error(
                exc.response.status_code, detail, error_type, action=action, endpoint=endpoint, request_id=request_id
            )
        if type(exc).__name__ == "MissingCredentialsError":
            return ConfigError("fal found no credentials; set FAL_KEY in the server's env block.", code="missing_key")
        job = f" (fal request {request_id})" if request_id else ""
        if isinstance(exc, httpx.HTTPError):
            return FalError(
                f"Could not reach fal while {action}{job}: {type(exc).__name__}. Check the network and try again.",
                request_id=request_id,
            )
        log.error("unexpected error while %s", action, exc_info=exc)
        text = str(exc).replace(self._key, "[FAL_KEY]")[:200]  # never echo the key, whatever fal_client put in
        return FalError(f"fal_client failed while {action}{job}: {type(exc).__name__}: {text}", request_id=request_id)


class _RetryableDownload(Exception):
    """A download attempt failed in a way worth trying again."""


def _is_transient(exc: BaseException) -> bool:
    """Whether a failure from fal_client is worth another attempt (transport trouble, 408/429/5xx)."""
    if isinstance(exc, httpx.TransportError):
        return True
    status = getattr(exc, "status_code", None)
    if status is None and isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
    return status in RETRYABLE_STATUS


def _json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = response.text.strip()
        shown = "an HTML page" if text[:1] == "<" else repr(text[:200])
        raise FalError(f"{what} was not a JSON object (fal sent {shown}). Try again in a minute.")
    return body


def _host(url: str) -> str:
    """Only the host of a (possibly signed) URL, for messages and logs."""
    return httpx.URL(url).host or "the result URL"

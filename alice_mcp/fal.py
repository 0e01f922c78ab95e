"""The fal.ai adapter: the only module that imports ``fal_client``.

It speaks fal's storage and queue protocols (fal-platform reference §3-§4) and turns every fal failure into an
:class:`~alice_mcp.errors.AliceError`. Nothing here knows MCP or the CLI.

Billing safety: ``fal_client`` retries a submit on any transport error, including a reset or read timeout after fal
already enqueued (and billed) the job. So :meth:`FalGateway.submit` sends the POST itself and retries only when the
request provably never reached fal's queue (connection not established, 429, ingress 5xx). Any other failure is a
:class:`~alice_mcp.errors.SubmitOutcomeUnknown`: at most one paid job per call.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Literal, Optional

import aiofiles
import fal_client
import httpx
from fal_client.client import QUEUE_URL_FORMAT

from .errors import AliceError, ConfigError, DownloadError, FalAuthError, FalError, FalValidationError, SubmitOutcomeUnknown
from .params import describe_fal_validation

log = logging.getLogger(__name__)

SUBMIT_ATTEMPTS = 4
DOWNLOAD_CHUNK = 256 * 1024
USER_AGENT = "alice-mcp"

# Transport failures that happen before a single byte of the request is sent: safe to retry, nothing was billed.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)


@dataclass(frozen=True)
class JobStatus:
    """A fal queue job's state as last seen."""

    state: Literal["queued", "running", "completed"]
    position: Optional[int] = None
    logs: list[str] = field(default_factory=list)
    error: Optional[str] = None
    error_type: Optional[str] = None


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
        return response.text[:300], response.headers.get("x-fal-error-type")
    if isinstance(body, dict):
        return body.get("detail", body), body.get("error_type") or response.headers.get("x-fal-error-type")
    return body, response.headers.get("x-fal-error-type")


def translate_http_error(
    status: int, detail: Any, error_type: Optional[str], *, action: str, endpoint: str, request_id: str | None = None
) -> FalError:
    """One clear :class:`FalError` for an HTTP error fal returned while doing ``action``."""
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
        return FalValidationError(describe_fal_validation(detail), request_id=request_id)
    if status == 404:
        return FalError(f"fal does not know {endpoint}{job} (404 Not Found while {action}).", code="fal_not_found")
    if status == 429:
        return FalError(f"fal is rate-limiting requests (429) while {action}{job}. Wait a minute and try again.")
    text = detail if isinstance(detail, str) else str(detail)[:300]
    kind = f", {error_type}" if error_type else ""
    return FalError(f"fal answered HTTP {status}{kind} while {action}{job}: {text}", request_id=request_id)


class FalGateway:
    """fal storage and queue operations for one API key. Create it when needed; :meth:`aclose` it when done."""

    def __init__(self, key: str, *, http_timeout_s: float = 60.0, upload_ttl: str | int | None = "1d") -> None:
        self._key = key
        self._timeout = httpx.Timeout(http_timeout_s, connect=min(10.0, http_timeout_s))
        self._fal = fal_client.AsyncClient(key=key, default_timeout=http_timeout_s)
        self._http = httpx.AsyncClient(timeout=self._timeout, headers={"User-Agent": USER_AGENT})
        self._lifecycle = fal_client.StorageSettings(expires_in=upload_ttl) if upload_ttl not in (None, "never") else None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def upload_file(self, path: Path) -> str:
        """Upload a local file to fal storage (with the configured expiry); returns its public URL."""
        try:
            return await self._fal.upload_file(path, lifecycle=self._lifecycle)
        except Exception as exc:  # fal_client raises many types here; all mean the upload failed
            raise self._failure(exc, action=f"uploading {path.name} to fal storage", endpoint="fal storage") from exc

    async def submit(self, endpoint: str, payload: dict[str, Any]) -> str:
        """Enqueue one job; returns fal's request id. Never sends a second POST when the first may have landed."""
        url = QUEUE_URL_FORMAT + endpoint
        headers = {"Authorization": f"Key {self._key}"}
        for attempt in range(1, SUBMIT_ATTEMPTS + 1):
            try:
                response = await self._http.post(url, json=payload, headers=headers)
            except _NOT_SENT as exc:
                if attempt == SUBMIT_ATTEMPTS:
                    raise FalError(f"Could not connect to fal to submit the job ({type(exc).__name__}); nothing was billed. Check the network and try again.") from exc
                await self._backoff(attempt)
                continue
            except httpx.HTTPError as exc:
                raise SubmitOutcomeUnknown(
                    f"The connection to fal failed while submitting the job ({type(exc).__name__}), after the request "
                    "was sent, so fal may have accepted it. It was not re-sent, to avoid paying twice. Check "
                    "https://fal.ai/dashboard/requests before trying again."
                ) from exc
            if response.status_code == 429 or _is_ingress_error(response):
                if attempt == SUBMIT_ATTEMPTS:
                    detail, error_type = _detail(response)
                    raise translate_http_error(response.status_code, detail, error_type, action="submitting", endpoint=endpoint)
                await self._backoff(attempt)
                continue
            if not response.is_success:
                detail, error_type = _detail(response)
                raise translate_http_error(response.status_code, detail, error_type, action="submitting", endpoint=endpoint)
            try:
                return str(response.json()["request_id"])
            except (ValueError, KeyError, TypeError) as exc:
                raise SubmitOutcomeUnknown(
                    f"fal accepted the submit (HTTP {response.status_code}) but its answer had no request id; "
                    "check https://fal.ai/dashboard/requests before trying again."
                ) from exc
        raise AssertionError("unreachable")

    async def status(self, endpoint: str, request_id: str) -> JobStatus:
        """The job's current state, with its log messages so far."""
        try:
            status = await self._fal.status(endpoint, request_id, with_logs=True)
        except Exception as exc:
            raise self._failure(exc, action="checking the job's status", endpoint=endpoint, request_id=request_id) from exc
        if isinstance(status, fal_client.Queued):
            return JobStatus("queued", position=status.position)
        logs = [str(entry.get("message", "")) for entry in (getattr(status, "logs", None) or []) if isinstance(entry, dict)]
        if isinstance(status, fal_client.InProgress):
            return JobStatus("running", logs=logs)
        return JobStatus("completed", logs=logs, error=status.error, error_type=status.error_type)

    async def result(self, endpoint: str, request_id: str) -> dict[str, Any]:
        """The finished job's output JSON."""
        try:
            output = await self._fal.result(endpoint, request_id)
        except Exception as exc:
            raise self._failure(exc, action="fetching the job's result", endpoint=endpoint, request_id=request_id) from exc
        if not isinstance(output, dict):
            raise FalError(f"fal returned an unexpected result for request {request_id}: {str(output)[:200]}", request_id=request_id)
        return output

    async def cancel(self, endpoint: str, request_id: str) -> None:
        """Ask fal to cancel the job (best effort: a job that already finished stays finished)."""
        try:
            await self._fal.cancel(endpoint, request_id)
        except Exception as exc:
            raise self._failure(exc, action="cancelling the job", endpoint=endpoint, request_id=request_id) from exc

    async def download(self, url: str, dest: Path, on_progress: Callable[[int, int | None], Awaitable[None]] | None = None) -> int:
        """Stream ``url`` into ``dest`` (bounded memory); returns the byte count. Raises :class:`DownloadError`."""
        received = 0
        try:
            async with self._http.stream("GET", url) as response:
                if not response.is_success:
                    raise DownloadError(f"Downloading the result failed: HTTP {response.status_code} from {_host(url)}.")
                total = int(response.headers["content-length"]) if "content-length" in response.headers else None
                async with aiofiles.open(dest, "wb") as out:
                    async for chunk in response.aiter_bytes(DOWNLOAD_CHUNK):
                        await out.write(chunk)
                        received += len(chunk)
                        if on_progress is not None:
                            await on_progress(received, total)
                if total is not None and received != total:
                    raise DownloadError(f"Downloading the result stopped early ({received} of {total} bytes).")
        except httpx.HTTPError as exc:
            raise DownloadError(f"Downloading the result failed ({type(exc).__name__}) from {_host(url)}.") from exc
        return received

    async def _backoff(self, attempt: int) -> None:
        await asyncio.sleep(min(0.25 * 2 ** (attempt - 1), 4.0) * random.uniform(0.5, 1.5))

    def _failure(self, exc: BaseException, *, action: str, endpoint: str, request_id: str | None = None) -> AliceError:
        """Map whatever fal_client raised into one :class:`AliceError` (never echoing the key)."""
        if isinstance(exc, AliceError):
            return exc
        if isinstance(exc, fal_client.FalClientHTTPError):
            return translate_http_error(exc.status_code, exc.message, exc.error_type, action=action, endpoint=endpoint, request_id=request_id)
        if isinstance(exc, httpx.HTTPStatusError):
            detail, error_type = _detail(exc.response)
            return translate_http_error(exc.response.status_code, detail, error_type, action=action, endpoint=endpoint, request_id=request_id)
        if type(exc).__name__ == "MissingCredentialsError":
            return ConfigError("fal found no credentials; set FAL_KEY in the server's env block.", code="missing_key")
        job = f" (fal request {request_id})" if request_id else ""
        if isinstance(exc, httpx.HTTPError):
            return FalError(f"Could not reach fal while {action}{job}: {type(exc).__name__}. Check the network and try again.", request_id=request_id)
        log.error("unexpected error while %s", action, exc_info=exc)
        return FalError(f"fal_client failed while {action}{job}: {type(exc).__name__}: {str(exc)[:200]}", request_id=request_id)


def _host(url: str) -> str:
    """Only the host of a (possibly signed) URL, for messages and logs."""
    return httpx.URL(url).host or "the result URL"

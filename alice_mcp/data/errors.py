"""One family of user-facing errors for the whole product.

Every failure a user can act on is an :class:`AliceError` with a stable ``code`` and a message that says what was
wrong and what to do. Faces render it (the MCP face as a ``ToolError``, the CLI as a message and an exit code).
Anything else that escapes the core is a bug and is reported as one.
"""

from __future__ import annotations

from alice_mcp.data.redact import scrub


class AliceError(Exception):
    """A failure the user can act on. ``str(err)`` is the message shown to the user."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(scrub(message))  # a fal answer that echoes the key never reaches a user or the ledger
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0])


class ConfigError(AliceError):
    """The server is not set up to do this (missing key, unusable folder, bad setting)."""

    code = "config"


class InputError(AliceError):
    """The caller's input cannot be used (missing file, bad URL, out-of-range value, unknown preset)."""

    code = "input"


class OutputError(AliceError):
    """The result cannot be written where it should go."""

    code = "output"


class FalError(AliceError):
    """fal.ai refused or failed the work. ``request_id`` names the fal job when there is one; ``http_status`` is the
    HTTP status of fal's answer when it was one; ``error_type`` is fal's own error type when it gave one."""

    code = "fal"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        request_id: str | None = None,
        http_status: int | None = None,
        error_type: str | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.request_id = request_id
        self.http_status = http_status
        self.error_type = error_type


class FalAuthError(FalError):
    """fal rejected the API key (401) or the key may not use the model (403)."""

    code = "fal_auth"


class FalValidationError(FalError):
    """fal rejected the job's parameters (422)."""

    code = "fal_validation"


class FalJobFailed(FalError):
    """fal accepted the job, then finished it with an error."""

    code = "fal_job_failed"


class SubmitOutcomeUnknown(FalError):
    """The submit request may or may not have reached fal; it is never re-sent blindly (it could bill twice)."""

    code = "submit_unknown"


class DownloadError(FalError):
    """fal finished the job but its result could not be downloaded."""

    code = "download"


class FalUnavailable(FalError):
    """fal kept failing transiently (429, 5xx, resets, timeouts) past the bounded retries; the job may still be fine."""

    code = "fal_unavailable"


class SpendLimitError(AliceError):
    """The job would break an operator spend limit; nothing was submitted."""

    code = "spend_limit"


class SpendNotApproved(AliceError):
    """The job needs the user's approval and did not get it; nothing was submitted."""

    code = "spend_not_approved"


class JobCancelled(AliceError):
    """The job was cancelled (by ``cancel_generation`` or by the client cancelling the call)."""

    code = "cancelled"


class JobNotFound(InputError):
    """No job with that id is in the ledger."""

    code = "job_not_found"

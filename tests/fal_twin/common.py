"""Helpers shared by the twin's route modules: auth, fal error bodies, faults.

Error body choices (fal documents only some of them; see reference §3.3):
* invalid key: 401 ``{"detail": "No user found for Key ID and Secret"}`` --
  the body real fal returns (seen in many public bug reports/logs);
* missing ``Authorization``: 401 ``{"detail": "Missing authorization header"}``
  (UNVERIFIED wording);
* forbidden key: 403 ``{"detail": "Forbidden: this key may not use this application"}``;
* CDN upload with a missing/unknown/expired token: 401
  ``{"detail": "Invalid or expired token"}`` (UNVERIFIED wording).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from .web import Abort, Hang, Response, Result, json_response

if TYPE_CHECKING:
    from .state import Fault, TwinState
    from .web import Request

NGINX_PAGES = {
    502: "502 Bad Gateway",
    503: "503 Service Temporarily Unavailable",
    504: "504 Gateway Time-out",
}
#: fal's documented error_type per status for app/runner-side failures.
APP_ERROR_TYPES = {
    500: "internal_error",
    502: "runner_incomplete_response",
    503: "runner_connection_error",
    504: "request_timeout",
}


#: Platform 4xx answers a fault can stand in for (a result or status fetch that briefly misses a finished job).
CLIENT_ERROR_DETAILS = {400: "Bad request", 404: "Request not found", 410: "Request result expired"}


def new_request_id() -> str:
    return str(uuid.uuid4())


def fal_error(status: int, detail: object, error_type: str | None = None, request_id: str | None = None) -> Response:
    """A fal app/platform error: JSON ``detail`` (+``error_type``), with
    ``x-fal-request-id`` (so fal_client knows it is not an ingress error)
    and ``X-Fal-Error-Type`` when an error_type is given."""
    body: dict = {"detail": detail}
    headers = [("x-fal-request-id", request_id or new_request_id())]
    if error_type:
        body["error_type"] = error_type
        headers.append(("x-fal-error-type", error_type))
    return json_response(status, body, headers)


def fault_result(fault: Fault, request_id: str | None = None) -> Result:
    """Translate an injected fault into what real infrastructure sends.

    * 429 -> ``{"detail": "Too many requests"}`` (no request id; retried).
    * 502/503/504 -> nginx HTML page, no ``x-fal-request-id`` (ingress error,
      retried by fal_client); with ``app=True`` -> JSON detail + error_type
      + ``x-fal-request-id`` (not retried).
    * 500 -> ``{"detail": "Internal Server Error", "error_type": "internal_error"}``.
    * 400/404/410 -> ``{"detail": ...}`` (platform answers; exact bodies unverified).
    * "reset" -> :class:`Abort`; "timeout" -> :class:`Hang` (hang_seconds).
    """
    mode = fault.mode
    if mode == "reset":
        return Abort()
    if mode == "timeout":
        return Hang(fault.hang_seconds)
    detail = fault.opts.get("detail")
    if mode in CLIENT_ERROR_DETAILS:  # a platform 4xx (reference: bodies UNVERIFIED; fal_client reads `detail`)
        return json_response(int(mode), {"detail": detail or CLIENT_ERROR_DETAILS[int(mode)]})
    if mode == 429:
        return json_response(429, {"detail": detail or "Too many requests"})
    if mode in NGINX_PAGES and not fault.opts.get("app"):
        title = NGINX_PAGES[mode]
        html = (
            f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        )
        return Response(mode, html.encode(), [("content-type", "text/html")])
    error_type = fault.opts.get("error_type") or APP_ERROR_TYPES[int(mode)]
    default_detail = "Internal Server Error" if mode == 500 else f"Runner error ({error_type})"
    return fal_error(int(mode), detail or default_detail, error_type, request_id)


def fal_key(req: Request, state: TwinState) -> tuple[str | None, Response | None]:
    """Check ``Authorization: Key <key>`` (or ``Bearer <token>``)."""
    header = req.headers.get("authorization", "").strip()
    if not header:
        return None, json_response(401, {"detail": "Missing authorization header"})
    scheme, _, key = header.partition(" ")
    if scheme.lower() not in ("key", "bearer"):
        return None, json_response(401, {"detail": "Invalid authorization header"})
    problem = state.key_problem(key.strip())
    if problem:
        return None, json_response(problem[0], {"detail": problem[1]})
    return key.strip(), None


def cdn_auth(req: Request, state: TwinState, now: float) -> Response | None:
    """v3 CDN requests need ``Authorization: Bearer <token from /storage/auth/token>``."""
    scheme, _, token = req.headers.get("authorization", "").partition(" ")
    expiry = state.cdn_tokens.get(token.strip())
    if scheme.lower() != "bearer" or expiry is None or expiry <= now:
        return json_response(401, {"detail": "Invalid or expired token"})
    return None

"""The faults the simulator can inject, and the error answers both APIs give.

:data:`FAULTS` names every fault; :func:`raise_fault` turns one into the error the
real provider would send, in the caller's API's wire format (:func:`error_body`).
The faults that are not errors (``timeout``, ``malformed``, ``refusal``) shape the
answer instead (see :mod:`.answers` and :mod:`.server`).
"""

from __future__ import annotations

from typing import Any

FAULTS = {
    "500",
    "503",
    "529",
    "400",
    "401",
    "403",
    "413",
    "422",
    "429",
    "quota",
    "timeout",
    "malformed",
    "refusal",
}


#: The faults a random draw picks from by default: the transient ones a client retries.
TRANSIENT_FAULTS = ("500", "503", "529", "429")


class HttpError(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def error_body(api: str, status: int, kind: str, message: str) -> dict[str, Any]:
    if api == "anthropic":
        return {"type": "error", "error": {"type": kind, "message": message}}
    return {"error": {"message": message, "type": kind, "code": kind if status == 429 else None}}


def raise_fault(api: str, fault: str) -> None:
    if fault in {"timeout", "malformed", "refusal"}:
        return
    if fault == "quota":
        raise HttpError(
            429,
            {
                "error": {
                    "message": "You exceeded your current quota",
                    "type": "insufficient_quota",
                    "code": "insufficient_quota",
                }
            },
        )
    status = int(fault)
    kind = {
        500: "api_error",
        503: "overloaded_error",
        529: "overloaded_error",
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        413: "request_too_large",
        422: "invalid_request_error",
    }[status]
    raise HttpError(status, error_body(api, status, kind, f"injected {fault}"))

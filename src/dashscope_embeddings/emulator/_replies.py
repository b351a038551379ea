"""What the emulator answers: a status, a JSON body and headers, before any socket is involved."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["DEFAULT_CODES", "Refusal", "Reply", "error_reply", "new_request_id"]

# The service's codes for the statuses a client must tell apart; an injected
# status without an explicit code gets the one the real service would send.
DEFAULT_CODES: Mapping[int, tuple[str, str]] = MappingProxyType(
    {
        400: ("InvalidParameter", "Invalid parameter."),
        401: ("InvalidApiKey", "Invalid API-key provided."),
        403: ("AccessDenied", "Access denied."),
        404: ("NotFound", "Not found."),
        408: ("RequestTimeOut", "Request timed out, please try again later."),
        413: ("RequestTooLarge", "Request body too large."),
        429: ("Throttling.RateQuota", "Requests rate limit exceeded, please try again later."),
        500: ("InternalError", "An internal error has occured, please try again later."),
        502: ("BadGateway", "Bad gateway, please try again later."),
        503: ("ServiceUnavailable", "The service is unavailable, please try again later."),
        504: ("GatewayTimeout", "Gateway timed out, please try again later."),
    }
)


def new_request_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]
    request_id: str
    headers: tuple[tuple[str, str], ...] = field(default=())


class Refusal(Exception):
    """Raised by validation; becomes an error reply. Carries no request data beyond the message."""

    def __init__(self, message: str, *, status: int = 400, code: str = "InvalidParameter") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_reply(
    status: int,
    code: str | None = None,
    message: str | None = None,
    *,
    request_id: str | None = None,
    retry_after: int | None = None,
) -> Reply:
    default_code, default_message = DEFAULT_CODES.get(
        status, ("InternalError" if status >= 500 else "Error", f"HTTP {status}")
    )
    rid = request_id or new_request_id()
    headers: tuple[tuple[str, str], ...] = ()
    if retry_after is not None:
        headers = (("retry-after", str(retry_after)),)
    body = {"code": code or default_code, "message": message or default_message, "request_id": rid}
    return Reply(status=status, body=body, request_id=rid, headers=headers)

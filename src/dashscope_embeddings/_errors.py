"""Every exception this package raises, in one place.

::

    DashScopeError
    ├── InputError (also ValueError)      bad input caught before any request
    ├── APIConnectionError                 no HTTP response (after retries)
    │   └── APITimeoutError
    ├── ProtocolError                      a 2xx answer we cannot trust
    └── APIStatusError                     the service answered non-2xx
        ├── BadRequestError          400
        ├── AuthenticationError      401, 403
        ├── RateLimitError           429 (after retries)
        └── ServerError              5xx (after retries)

Every error names the inputs it concerns (``input_indices``: positions in the
list the caller passed), so a failed batch of a large job can be located.
An error raised by a call that had already embedded part of its inputs also
carries ``embeddings``: one entry per input of the call, the vector or
``None`` where it failed (then ``input_indices`` lists exactly those ``None``
positions), so the caller can resume without paying twice.
Messages never contain the API key: nothing here ever receives it.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "DashScopeError",
    "InputError",
    "ProtocolError",
    "RateLimitError",
    "ResponseValidationError",
    "ServerError",
]


class DashScopeError(Exception):
    """Base of every error raised by ``dashscope_embeddings``."""

    status_code: int | None
    code: str | None
    message: str
    request_id: str | None
    input_indices: tuple[int, ...]
    embeddings: list[list[float] | None] | None
    """Set when a call fails: one entry per input, the vector or ``None`` (failed or not sent)."""
    retry_after: float | None
    """Seconds the service asked us to wait (``Retry-After``), when it said so."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        input_indices: Sequence[int] = (),
        embeddings: list[list[float] | None] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.request_id = request_id
        self.input_indices = tuple(input_indices)
        self.embeddings = embeddings
        self.retry_after = retry_after

    def __str__(self) -> str:
        parts = [self.message]
        if self.status_code is not None or self.code:
            parts.append(f"[status={self.status_code} code={self.code}]")
        if self.request_id:
            parts.append(f"(request_id={self.request_id})")
        if self.input_indices:
            parts.append(f"inputs {_describe_indices(self.input_indices)}")
        return " ".join(parts)

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only constructors do not survive the default pickling of
        # exceptions; errors cross process pools (IngestionPipeline workers).
        return (
            _rebuild,
            (
                type(self),
                self.message,
                self.status_code,
                self.code,
                self.request_id,
                self.input_indices,
                self.embeddings,
                self.retry_after,
            ),
        )


def _rebuild(
    cls: type[DashScopeError],
    message: str,
    status_code: int | None,
    code: str | None,
    request_id: str | None,
    input_indices: tuple[int, ...],
    embeddings: list[list[float] | None] | None = None,
    retry_after: float | None = None,
) -> DashScopeError:
    return cls(
        message,
        status_code=status_code,
        code=code,
        request_id=request_id,
        input_indices=input_indices,
        embeddings=embeddings,
        retry_after=retry_after,
    )


def _describe_indices(indices: tuple[int, ...]) -> str:
    if len(indices) > 1 and indices == tuple(range(indices[0], indices[-1] + 1)):
        return f"{indices[0]}..{indices[-1]}"
    if len(indices) > 8:
        return ", ".join(map(str, indices[:8])) + f", ... ({len(indices)} in all)"
    return ", ".join(map(str, indices))


class InputError(DashScopeError, ValueError):
    """Input or option refused before anything was sent.

    The message names the offending input's position and the limit it broke.
    """


class APIConnectionError(DashScopeError):
    """The service could not be reached, or the connection broke (after retries)."""


class APITimeoutError(APIConnectionError):
    """The request timed out (after retries)."""


class ResponseValidationError(DashScopeError):
    """A successful answer that does not match the request.

    Missing, duplicated or extra vectors, a wrong dimension, a wrong result
    type, or a body that is not the documented JSON. Never retried: the same
    request would most likely get the same answer.
    """


ProtocolError = ResponseValidationError
"""The same class under its first name, kept for existing code; the new name
does not collide with ``httpx.ProtocolError`` (a broken connection)."""


class APIStatusError(DashScopeError):
    """The service answered with a non-2xx status."""

    status_code: int


class BadRequestError(APIStatusError):
    """400: the service refused the request (``InvalidParameter`` and friends)."""


class AuthenticationError(APIStatusError):
    """401/403: the key is missing, wrong, or not allowed to use this model or workspace."""


class RateLimitError(APIStatusError):
    """429 after every retry (``Throttling``, ``Throttling.RateQuota``, ...)."""


class ServerError(APIStatusError):
    """5xx after every retry."""


def status_error(
    status_code: int,
    *,
    code: str | None,
    message: str,
    request_id: str | None,
    retry_after: float | None = None,
) -> APIStatusError:
    """The typed error for a non-2xx answer."""
    cls: type[APIStatusError]
    if status_code in (401, 403):
        cls = AuthenticationError
    elif status_code == 429:
        cls = RateLimitError
    elif status_code >= 500:
        cls = ServerError
    elif status_code == 400:
        cls = BadRequestError
    else:
        cls = APIStatusError
    return cls(
        message,
        status_code=status_code,
        code=code,
        request_id=request_id,
        retry_after=retry_after,
    )

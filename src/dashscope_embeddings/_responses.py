"""Response parsing: bodies to vectors matched by index, or to typed errors. No I/O.

Nothing here trusts the order of results: each vector is placed by its
``index`` / ``text_index``; a missing, duplicated or unexpected index, a wrong
dimension or a wrong result type is a ``ProtocolError``, never a short list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._catalog import Endpoint
from ._errors import APIStatusError, ProtocolError, status_error
from ._planner import PlannedRequest
from ._wire import json_or_none

__all__ = ["ParsedResponse", "error_from_response", "parse_response"]

Vector = list[float]
SparseVector = dict[int, float]


@dataclass(slots=True)
class ParsedResponse:
    vectors: dict[int, Vector]
    """Input position to dense vector."""
    sparse: dict[int, SparseVector] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)
    request_id: str | None = None


def error_from_response(
    status_code: int, content: bytes, headers: Mapping[str, str]
) -> APIStatusError:
    """The typed error for a non-2xx answer, with the service's code, message and request id."""
    payload = json_or_none(content)
    body = payload if isinstance(payload, dict) else {}
    message = body.get("message") or content[:200].decode("utf-8", "replace") or "no message"
    return status_error(
        status_code,
        code=body.get("code") or None,
        message=str(message),
        request_id=body.get("request_id") or headers.get("x-request-id") or None,
    )


def parse_response(
    request: PlannedRequest, content: bytes, expected_dimension: int | None
) -> ParsedResponse:
    """Vectors of a 2xx answer to ``request``, keyed by input position."""
    payload = json_or_none(content)
    request_id = payload.get("request_id") if isinstance(payload, dict) else None

    def fail(why: str) -> ProtocolError:
        return ProtocolError(
            f"unexpected answer from DashScope: {why}",
            status_code=200,
            request_id=request_id,
            input_indices=request.positions,
        )

    if not isinstance(payload, dict):
        raise fail("the body is not a JSON object")
    output = payload.get("output")
    results = output.get("embeddings") if isinstance(output, dict) else None
    if not isinstance(results, list):
        code, message = payload.get("code"), payload.get("message")
        if isinstance(code, str) and code:
            # An error in a 200: keep the service's own words.
            raise ProtocolError(
                f"DashScope answered 200 with an error: {str(message)[:300]}",
                status_code=200,
                code=code,
                request_id=request_id if isinstance(request_id, str) else None,
                input_indices=request.positions,
            )
        raise fail("no output.embeddings list")

    # Most bodies prove their vectors numeric from their bytes, which is
    # cheaper than touching every element (see _flat_number_lists). A vector
    # of integer literals still takes the slow way, which hands back floats.
    read_off_bytes = _flat_number_lists(content, 1 + len(results))
    # Bodies read off their bytes hold no true/false in any vector.
    maybe_bools = not read_off_bytes and (
        _has_literal(content, b"r", b"true") or _has_literal(content, b"l", b"false")
    )
    index_key = "text_index" if request.endpoint is Endpoint.TEXT else "index"
    slots = {slot.index: slot for slot in request.slots}
    parsed = ParsedResponse(vectors={}, request_id=request_id)
    dimension = expected_dimension
    for result in results:
        if not isinstance(result, dict):
            raise fail("a result is not an object")
        index = result.get(index_key)
        slot = slots.get(index) if type(index) is int else None  # not a bool
        if slot is None:
            raise fail(f"result {index_key}={index!r} matches no input of the request")
        if slot.position in parsed.vectors or slot.position in parsed.sparse:
            raise fail(f"two results for {index_key}={index}")
        kind = result.get("type")
        if slot.types is not None and kind is not None and kind not in slot.types:
            raise fail(f"result {index} has type {kind!r}, expected one of {sorted(slot.types)}")
        vector = result.get("embedding")
        if vector is not None:
            if not isinstance(vector, list) or not vector:
                raise fail(f"result {index} has no embedding")
            if dimension is None:
                dimension = len(vector)
            if len(vector) != dimension:
                raise fail(f"result {index} has {len(vector)} dimensions, expected {dimension}")
            if read_off_bytes and type(vector[0]) is float:
                numbers: list[float] | None = vector
            else:
                numbers = _numbers(vector, maybe_bools)
            if numbers is None:
                raise fail(f"result {index} holds a non-number")
            parsed.vectors[slot.position] = numbers
        sparse = result.get("sparse_embedding")
        if sparse is not None:
            parsed.sparse[slot.position] = _sparse(sparse, fail)
        if vector is None and sparse is None:
            raise fail(f"result {index} has no embedding")

    missing = [
        s.index
        for s in request.slots
        if s.position not in parsed.vectors and s.position not in parsed.sparse
    ]
    if missing:
        raise fail(f"no result for {index_key} {missing}")
    usage = payload.get("usage")
    if usage is not None and not isinstance(usage, dict):
        raise fail("usage is not an object")
    parsed.usage = flatten_usage(usage)
    return parsed


def flatten_usage(usage: Any, prefix: str = "") -> dict[str, int]:
    """Every integer of ``usage``, nested objects flattened to dotted names.

    The tongyi models nest ``input_tokens_details: {image_tokens, text_tokens}``;
    flat names (``input_tokens_details.image_tokens``) keep ``usage`` one
    ``dict[str, int]`` that sums field by field over the requests of a call.
    """
    if not isinstance(usage, dict):
        return {}
    flat: dict[str, int] = {}
    for key, value in usage.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_usage(value, f"{name}."))
        elif isinstance(value, int) and not isinstance(value, bool):
            flat[name] = value
    return flat


def _flat_number_lists(content: bytes, most: int) -> bool:
    """Whether every JSON array of ``content`` but the first holds only numbers.

    Read off the bytes by ``find`` of one byte (``memchr``): a half to a
    third of the cost of ``sum`` over the parsed elements. ``False`` (the
    caller then checks element by element) for a body with more than ``most``
    ``[``, or with an array whose bytes up to its first ``]`` hold another
    ``[`` or a byte of every other value that is not a number: a string's
    ``"``, an object's ``{``, the ``u`` of ``null`` and ``true``, the ``l`` of
    ``null`` and ``false``. Sound for a body orjson parsed: a vector's first non-number
    would start before any ``]`` in its bytes, and its ``[`` is never the
    body's first (the results' list opens before it). A ``[`` inside a string
    only costs the slow check. Every number orjson yields is finite: it
    refuses NaN, infinities and numbers beyond a float's range.
    """
    opens: list[int] = []
    at = content.find(b"[")
    while at >= 0:
        if len(opens) == most:
            return False
        opens.append(at)
        at = content.find(b"[", at + 1)
    find = content.find  # unrolled below: a generator per array cost a fifth more
    for start, following in zip(opens[1:], [*opens[2:], len(content)], strict=False):
        end = find(b"]", start, following)
        if (
            end < 0
            or find(b'"', start, end) >= 0
            or find(b"{", start, end) >= 0
            or find(b"u", start, end) >= 0
            or find(b"l", start, end) >= 0
        ):
            return False
    return True


def _has_literal(content: bytes, rare: bytes, literal: bytes) -> bool:
    """Whether ``literal`` (``true``/``false``) may occur in ``content``.

    orjson yields a bool only for such a literal, so a body without one needs
    no bool check per element. A substring search runs at about 1 byte per
    step (a third of the parse); ``find`` of one byte is ``memchr``, and the
    rare letter (``r`` of true, ``l`` of false) occurs in a body only in a few
    keys (``request_id``, ``total_tokens``, ``vl``) besides the literal itself.
    A string that happens to contain the literal only costs the slow check.
    """
    offset = literal.index(rare)
    at = content.find(rare)
    while at >= 0:
        if content.startswith(literal, at - offset):
            return True
        at = content.find(rare, at + 1)
    return False


def _numbers(vector: list[Any], maybe_bools: bool) -> list[float] | None:
    """``vector`` itself if every element is a number, else ``None``.

    Checked without copying: ``sum`` runs in C and raises on anything that is
    not a number (a string, ``None``, a list). Its result says nothing more:
    every number orjson yields is finite, and finite ones may still add up
    to infinity. Only a body with a ``true``/``false`` in it gets the
    element-by-element check that tells a bool from a number.
    """
    try:
        total = sum(vector)
    except TypeError:
        return None
    if maybe_bools and any(type(x) is bool for x in vector):
        return None
    if type(total) is int:  # integer literals only (64-bit at most): hand back floats
        return [float(x) for x in vector]
    return vector


def _sparse(value: Any, fail: Any) -> SparseVector:
    if not isinstance(value, list):
        raise fail("sparse_embedding is not a list")
    out: SparseVector = {}
    for entry in value:
        index = entry.get("index") if isinstance(entry, dict) else None
        if type(index) is not int:
            raise fail("malformed sparse_embedding entry")
        number = _numbers([entry.get("value", 0.0)], True)
        if number is None:
            raise fail("malformed sparse_embedding entry")
        out[index] = number[0]
    return out

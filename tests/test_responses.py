"""Response parsing: vectors placed by index, never by position; anything off is an error."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashscope_embeddings import (
    CATALOG,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ProtocolError,
    RateLimitError,
    ServerError,
)
from dashscope_embeddings._inputs import Image, Item
from dashscope_embeddings._planner import PlannedRequest, plan_requests
from dashscope_embeddings._responses import error_from_response, parse_response

_img = Image("https://example.com/a.png")


def _request(n: int = 3) -> PlannedRequest:
    (request,) = plan_requests(
        [Item(text=f"t{i}") for i in range(n)], CATALOG["qwen3-vl-embedding"], {}
    )
    return request


def _body(results: list[dict[str, Any]]) -> bytes:
    return orjson.dumps({"output": {"embeddings": results}, "request_id": "rid-1"})


def _vec(i: int, dim: int = 4, kind: str = "text") -> dict[str, Any]:
    return {"index": i, "embedding": [0.5] * dim, "type": kind}


@pytest.mark.parametrize(
    ("results", "why"),
    [
        ([_vec(0), _vec(1)], "no result for index"),
        ([_vec(0), _vec(1), _vec(2), _vec(3)], "matches no input"),
        ([_vec(0), _vec(1), _vec(1)], "two results"),
        ([_vec(0), _vec(1), _vec(2, dim=5)], "5 dimensions, expected 4"),
        ([_vec(0), _vec(1), _vec(2, kind="fusion")], "type 'fusion'"),
        ([_vec(0), _vec(1), {"index": 2, "embedding": []}], "no embedding"),
        ([_vec(0), _vec(1), {"index": 2, "embedding": ["x"] * 4}], "non-number"),
        ([_vec(0), _vec(1), {"index": "2", "embedding": [1.0] * 4}], "matches no input"),
    ],
)
def test_anything_missing_or_extra_is_a_protocol_error(
    results: list[dict[str, Any]], why: str
) -> None:
    with pytest.raises(ProtocolError, match=why) as info:
        parse_response(_request(), _body(results), 4)
    assert info.value.input_indices == (0, 1, 2)
    assert info.value.request_id == "rid-1"


@pytest.mark.parametrize("content", [b"not json", b"[]", b'{"output": {}}', b'{"output": 3}'])
def test_malformed_bodies_are_protocol_errors(content: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_response(_request(), content, 4)


def test_vectors_are_matched_by_index_not_position() -> None:
    results = [
        {"index": 2, "embedding": [2.0, 0.0], "type": "vl"},
        {"index": 0, "embedding": [0.0, 0.0], "type": "text"},
        {"index": 1, "embedding": [1.0, 0.0], "type": "vl"},
    ]
    parsed = parse_response(_request(), _body(results), None)
    assert {pos: v[0] for pos, v in parsed.vectors.items()} == {0: 0.0, 1: 1.0, 2: 2.0}


def test_sparse_vectors_are_parsed() -> None:
    (request,) = plan_requests([Item(text="a")], CATALOG["text-embedding-v4"], {})
    body = orjson.dumps(
        {
            "output": {
                "embeddings": [
                    {
                        "text_index": 0,
                        "embedding": [0.1, 0.2],
                        "sparse_embedding": [{"index": 7, "value": 0.5, "token": "a"}],
                    }
                ]
            },
            "usage": {"total_tokens": 3, "note": "ignored"},
        }
    )
    parsed = parse_response(request, body, 2)
    assert parsed.sparse == {0: {7: 0.5}}
    assert parsed.usage == {"total_tokens": 3}


# The vectors' numbers are mostly checked from the body's bytes, not element by
# element: these two properties hold it to exactly what the element-by-element
# check accepts, whatever else the body holds (brackets, quotes and letters in
# strings, exponents, integers, whitespace) and wherever a bad element sits.
_numbers = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**53), 2**53)
_not_numbers = st.sampled_from(
    [None, True, False, "x", "]", "[1]", "1.0", [], [1.0], {}, {"v": 1.0}, {"l": [0.5]}]
)


@st.composite
def _answers(draw: st.DrawFn) -> tuple[int, list[list[Any]], bytes]:
    """A valid answer: its size, its vectors, and its bytes."""
    n, dim = draw(st.integers(1, 4)), draw(st.integers(1, 6))
    vectors = [draw(st.lists(_numbers, min_size=dim, max_size=dim)) for _ in range(n)]
    order = draw(st.permutations(range(n)))
    # Brackets elsewhere in a body send it to the element-by-element check:
    # only sometimes, so that both checks are exercised.
    letters = '{}"\\ulnt,.e0 \n\u00e9' + ("[]" if draw(st.booleans()) else "")
    noise = st.text(alphabet=st.sampled_from(letters), max_size=8)
    results = [{"index": i, "embedding": vectors[i], "note": draw(noise)} for i in order]
    payload = {
        "request_id": draw(noise),
        "output": {"embeddings": results},
        "usage": {"input_tokens": 3, "text_tokens": [1, 2]} if draw(st.booleans()) else {},
    }
    indent = orjson.OPT_INDENT_2 if draw(st.booleans()) else 0
    return n, vectors, orjson.dumps(payload, option=indent)


@settings(max_examples=300, deadline=None)
@given(_answers())
def test_every_valid_vector_is_returned_as_sent(answer: tuple[int, list[list[Any]], bytes]) -> None:
    n, vectors, body = answer
    parsed = parse_response(_request(n), body, len(vectors[0]))
    assert parsed.vectors == dict(enumerate(vectors))
    assert all(type(x) in (float, int) for v in parsed.vectors.values() for x in v)


@settings(max_examples=300, deadline=None)
@given(_answers(), st.data())
def test_a_vector_with_anything_but_numbers_is_refused(
    answer: tuple[int, list[list[Any]], bytes], data: st.DataObject
) -> None:
    n, vectors, body = answer
    payload = orjson.loads(body)
    result = data.draw(st.sampled_from(payload["output"]["embeddings"]))
    at = data.draw(st.integers(0, len(vectors[0]) - 1))
    result["embedding"][at] = data.draw(_not_numbers)
    with pytest.raises(ProtocolError, match="non-number"):
        parse_response(_request(n), orjson.dumps(payload), len(vectors[0]))


@pytest.mark.parametrize("bad", [None, True, False, "x", "]", [], [1.0], {}, {"v": 1.0}])
@pytest.mark.parametrize("indent", [0, orjson.OPT_INDENT_2])
def test_each_kind_of_non_number_in_a_vector_is_refused(bad: Any, indent: int) -> None:
    results = [_vec(0), _vec(1), {"index": 2, "embedding": [0.5, 0.25, bad, 0.125]}]
    body = orjson.dumps({"output": {"embeddings": results}, "request_id": "r"}, option=indent)
    with pytest.raises(ProtocolError, match="result 2 holds a non-number"):
        parse_response(_request(), body, 4)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, APIStatusError),
        (429, RateLimitError),
        (500, ServerError),
        (503, ServerError),
    ],
)
def test_status_errors_are_typed_and_carry_the_service_fields(
    status: int, cls: type[APIStatusError]
) -> None:
    body = orjson.dumps({"code": "Some.Code", "message": "what went wrong", "request_id": "r-9"})
    error = error_from_response(status, body, {})
    assert type(error) is cls
    assert (error.status_code, error.code, error.message, error.request_id) == (
        status,
        "Some.Code",
        "what went wrong",
        "r-9",
    )


def test_non_json_error_body_still_gives_a_message() -> None:
    error = error_from_response(502, b"<html>bad gateway</html>", {"x-request-id": "h-1"})
    assert isinstance(error, ServerError)
    assert "bad gateway" in error.message
    assert error.request_id == "h-1"

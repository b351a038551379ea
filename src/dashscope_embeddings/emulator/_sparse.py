"""Stand-in sparse vectors that behave like lexical ones.

text-embedding-v3/v4 return, beside the dense vector, a sparse one: a weight
per vocabulary token of the text. What makes sparse vectors worth having in
hybrid search is that rare, exact terms (product codes, part numbers, names)
weigh much more than common words, and that a term matches only itself. The
emulator has no corpus to count document frequencies in, so it estimates
rarity from the term itself, the same for every text:

* a code such as ``SKU-4471-B`` is one term as a whole (besides its parts),
  and the heaviest kind: it identifies one thing;
* words with digits (``4471``, ``v4``) come next;
* a plain word weighs more the longer it is (long words are rare words, by
  Zipf's law of abbreviation); a short list of function words weighs little;
* a CJK character weighs like a short word.

A repeated term gains weight with diminishing returns, and a term weighs
less in a long text than in a short one: BM25's term-frequency saturation
and length normalisation, with a fixed average length instead of a corpus
statistic. Term ids come
from a stable hash (``hashlib``, not the per-process salted ``hash()``), so a
vector is the same in every process and on every machine.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

__all__ = ["sparse_embedding"]

# The size of the Qwen tokenizer's vocabulary, which the service's term ids index.
VOCABULARY = 151_646

# Runs of letters/digits joined by - _ . / that hold a digit: SKU-4471-B, A7.2, x86_64.
_CODE = re.compile(r"[^\W_]+(?:[-_./][^\W_]+)+")
_WORD = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]|[^\W_]+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
# BM25's usual constants; the "average" text length is fixed, not measured.
_K1 = 1.2
_B = 0.75
_AVERAGE_TERMS = 16.0
_FUNCTION_WORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "by", "can", "did", "do", "does", "for",
        "from", "has", "have", "how", "in", "is", "it", "its", "no", "not", "of", "on", "or",
        "that", "the", "this", "to", "was", "were", "what", "when", "where", "which", "who",
        "why", "will", "with",
    }
)  # fmt: skip


def _terms(text: str) -> list[str]:
    lowered = text.lower()
    codes = [c for c in _CODE.findall(lowered) if any(ch.isdigit() for ch in c)]
    return codes + _WORD.findall(lowered)


def _rarity(term: str) -> float:
    if _CODE.fullmatch(term):
        return 2.0
    if any(ch.isdigit() for ch in term):
        return 1.2
    if _CJK.fullmatch(term):
        return 0.4
    if term in _FUNCTION_WORDS:
        return 0.05
    return min(1.0, 0.1 + 0.09 * len(term))


def _term_id(term: str) -> int:
    digest = hashlib.blake2b(term.encode("utf-8"), digest_size=8, person=b"emu-sparse").digest()
    return int.from_bytes(digest, "big") % VOCABULARY


def sparse_embedding(text: str) -> list[dict[str, Any]]:
    """The ``sparse_embedding`` of one text: ``[{"index", "value", "token"}]``, one per term."""
    terms = _terms(text)
    counts: dict[str, int] = {}
    for term in terms:
        counts[term] = counts.get(term, 0) + 1
    length = _K1 * (1.0 - _B + _B * len(terms) / _AVERAGE_TERMS)
    entries: dict[int, dict[str, Any]] = {}
    for term, count in counts.items():
        index = _term_id(term)
        saturation = count * (_K1 + 1.0) / (count + length)
        value = round(_rarity(term) * saturation, 6)
        # Two terms hashed to one id: keep the heavier, as a tokenizer has one token per id.
        if index not in entries or entries[index]["value"] < value:
            entries[index] = {"index": index, "value": value, "token": term}
    return list(entries.values())

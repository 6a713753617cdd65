"""Copying: an explanation that repeats the abstract's wording is a paraphrase, not an explanation."""

from __future__ import annotations

from . import Verdict
from .format import words


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    tokens = [word.lower() for word in words(text)]
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


def check_copying(abstract: str, explanation: str, *, copy_ngram: int = 4, max_copy_overlap: float = 0.35) -> Verdict:
    """Score = share of the explanation's word n-grams (n = copy_ngram) that also occur in the abstract."""
    mine = ngrams(explanation, copy_ngram)
    overlap = len(mine & ngrams(abstract, copy_ngram)) / len(mine) if mine else 0.0
    passed = overlap <= max_copy_overlap
    reasons = () if passed else (f"copied: {overlap:.0%} of {copy_ngram}-grams come from the abstract "
                                 f"(max {max_copy_overlap:.0%})",)
    return Verdict("copying", passed, round(overlap, 4), reasons)

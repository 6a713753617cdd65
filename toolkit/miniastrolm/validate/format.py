"""Format: the explanation reads as finished plain English prose of the right length."""

from __future__ import annotations

import re

from . import Verdict

_TEX = re.compile(r"\\[A-Za-z]+|\$[^$]*\$|\^\{|_\{|\\\(|\\\[")
_MARKDOWN = re.compile(r"^\s{0,3}#{1,6}\s|\*\*|__|`|\[[^\]]+\]\([^)]+\)", re.MULTILINE)
_LIST = re.compile(r"^\s*(?:[-*•+]|\d{1,2}[.)])\s+\S", re.MULTILINE)
_URL = re.compile(r"https?://|www\.\w", re.IGNORECASE)
_CODE = re.compile(r"```|^\s*(?:def|class|import|for|return)\s.*[:(]|[{};]\s*$", re.MULTILINE)
_ENDS_SENTENCE = re.compile(r"[.!?][\"'”’)]*\s*$")
# Short function words that make up ~40% of running English prose; other languages share few of them.
ENGLISH_STOPWORDS = frozenset(
    "the a an and or of to in on at by for with from as is are was were be been it its this that these those "
    "they their them we our you your he she his her not but if than then so such which who what when where "
    "how why can could may might will would has have had do does did into about over more most very also "
    "there here all some any each other only just both".split())


def words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z\u00C0-\u024F]+(?:['’][A-Za-z]+)?", text)


def english_share(text: str) -> float:
    tokens = [word.lower() for word in words(text)]
    return sum(token in ENGLISH_STOPWORDS for token in tokens) / len(tokens) if tokens else 0.0


def unfinished(text: str) -> bool:
    """Text that stops mid-sentence: no closing . ! or ? (quotes and brackets allowed after it)."""
    return bool(text.strip()) and not _ENDS_SENTENCE.search(text)


def check_format(abstract: str, explanation: str, *, min_words: int = 100, max_words: int = 240,
                 min_english_share: float = 0.1) -> Verdict:
    count = len(explanation.split())
    reasons = []
    if count < min_words:
        reasons.append(f"too_short: {count} words < {min_words}")
    if count > max_words:
        reasons.append(f"too_long: {count} words > {max_words}")
    for code, pattern in (("tex", _TEX), ("markdown", _MARKDOWN), ("list", _LIST), ("url", _URL), ("code", _CODE)):
        if match := pattern.search(explanation):
            reasons.append(f"{code}: {match[0].strip()[:30]!r}")
    if unfinished(explanation):
        reasons.append(f"unfinished: ends with {explanation.strip()[-30:]!r}")
    share = english_share(explanation)
    if share < min_english_share:
        reasons.append(f"not_english: {share:.0%} common English words")
    return Verdict("format", not reasons, float(count), tuple(reasons))

"""Degeneration: the ways a small model's text stops being an explanation even when each fact is right --
loops (a sentence said twice, a phrase going round), low variety of wording, made-up words, and talk about
"the abstract" instead of the research. Each was common in rated real output (ratings/rated.jsonl)."""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

from ..text import plain_text, sentences
from . import Verdict
from .format import words

# Talk about the source text or the task instead of about the research.
_META = re.compile(r"\b(?:this|the|that|above|given) (?:abstract|text|passage|excerpt)\b", re.IGNORECASE)
# Astronomy words that general word lists rate as (nearly) unseen; more come from the abstract itself.
ASTRO_WORDS = frozenset(
    "kilonova kilonovae astrochemistry exomoon exomoons exocomet exocomets hypervelocity circumbinary "
    "circumstellar circumplanetary protostar protostars protostellar planetesimal planetesimals exozodiacal "
    "magnetosphere magnetospheres photoevaporation spectropolarimetry spectropolarimetric astrometry "
    "astrometric asteroseismology asteroseismic interferometry radiometer bolometer microlensing "
    "nucleosynthesis reionization reionisation nanohertz millisecond submillimeter submillimetre galactocentric "
    "heliocentric barycentric circumgalactic intracluster intergalactic interstellar protoplanetary".split())


def _norm(sentence: str) -> str:
    return " ".join(word.lower() for word in words(sentence))


@lru_cache(maxsize=1)
def _zipf():
    from wordfreq import zipf_frequency

    return lambda word: zipf_frequency(word, "en")


_METRIC_PREFIX = re.compile(r"^(?:kilo|mega|giga|tera|milli|micro|nano|pico|sub|super|hyper|multi|inter|intra)")


def _stems(word: str) -> set[str]:
    word = re.sub(r"['’]s$", "", word.lower())
    stems = {word, *(word[:-len(end)] for end in ("s", "es", "ed", "ing", "ly", "al") if word.endswith(end))}
    return stems | {_METRIC_PREFIX.sub("", stem) for stem in stems}  # "kiloparsecs" -> "parsec"


def _compound(word: str, zipf) -> bool:
    """Two common words run together ("starspots", "spacecraft")."""
    return any(zipf(word[:i]) >= 3 and zipf(word[i:]) >= 3 for i in range(3, len(word) - 2))


def made_up_words(abstract: str, explanation: str) -> list[str]:
    """Words no English word list knows, that the abstract does not use either, nor are two common words run
    together."""
    known = {stem for word in words(plain_text(abstract)) for stem in _stems(word)} | ASTRO_WORDS
    zipf = _zipf()
    found = []
    for word in words(explanation):
        if len(word) < 5 or any(character.isupper() for character in word[1:]):
            continue  # short words and acronyms are the grounding check's business
        stems = _stems(word)
        if stems & known or any(zipf(stem) > 0 for stem in stems) or _compound(word.lower(), zipf):
            continue
        found.append(word)
    return list(dict.fromkeys(found))


def check_degeneration(abstract: str, explanation: str, *, loop_ngram: int = 4, max_ngram_repeats: int = 2,
                       min_distinct_bigrams: float = 0.8) -> Verdict:
    """Score = share of distinct word bigrams (1.0 = no bigram said twice)."""
    reasons = []
    seen = Counter(_norm(sentence) for sentence in sentences(explanation))
    reasons += [f"repeated_sentence: {sentence[:50]!r} x{count}" for sentence, count in seen.items()
                if count > 1 and len(sentence.split()) >= 3]
    tokens = re.findall(r"[a-z0-9]+(?:['’.][a-z0-9]+)*", explanation.lower())  # numbers count: "from 3 to 5"
    grams = Counter(tuple(tokens[i:i + loop_ngram]) for i in range(len(tokens) - loop_ngram + 1))
    looping = [(" ".join(gram), count) for gram, count in grams.most_common(3) if count > max_ngram_repeats]
    reasons += [f"loop: {gram!r} x{count}" for gram, count in looping]
    bigrams = list(zip(tokens, tokens[1:], strict=False))
    distinct = len(set(bigrams)) / len(bigrams) if bigrams else 1.0
    if distinct < min_distinct_bigrams:
        reasons.append(f"low_variety: {distinct:.0%} distinct word pairs < {min_distinct_bigrams:.0%}")
    reasons += [f"made_up_word: {word}" for word in made_up_words(abstract, explanation)]
    if match := _META.search(explanation):
        reasons.append(f"meta_talk: {match[0]!r}")
    return Verdict("degeneration", not reasons, round(distinct, 4), tuple(reasons))

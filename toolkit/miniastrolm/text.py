"""Text normalisation shared by ingest, prompts and validators."""

from __future__ import annotations

import re
from functools import lru_cache

# What pylatexenc would change: macros, math, groups, ties, TeX dashes and quotes. Text without any of these
# skips the parser (~20 ms per abstract, most of the filter's non-embedding time).
_TEX_MARKERS = re.compile(r"[\\$^_{}~]|--|``|''")


def unwrap(text: str) -> str:
    """Collapse hard line breaks and runs of whitespace into single spaces (TeX is left as it is)."""
    if "\n" in text or "  " in text or "\t" in text or "\r" in text or text[:1].isspace() or text[-1:].isspace():
        return " ".join(text.split())
    return text  # already clean: the common case, and 5x cheaper than split + join on a long abstract


@lru_cache(maxsize=1)
def _latex_to_text():
    from pylatexenc.latex2text import LatexNodes2Text

    return LatexNodes2Text(math_mode="text", strict_latex_spaces=False)


@lru_cache(maxsize=4096)  # an abstract is rendered for the prompt and for several validators
def plain_text(text: str) -> str:
    """Render TeX (accents, `$...$` math, macros) as readable Unicode for prompts and validators."""
    if not _TEX_MARKERS.search(text):
        return unwrap(text)
    try:
        rendered = _latex_to_text().latex_to_text(text)
    except Exception:  # pylatexenc is lenient, but a pathological input must not stop a stage
        rendered = text
    return unwrap(rendered)


_SENTENCE_BREAK = re.compile(r"(?<=[.!?])[\"'”’)]*\s+(?=[\"“(]?[A-Z0-9])")
# Full stops that end an abbreviation, not a sentence ("et al. 2020", "e.g. Gaia", "Fig. 3").
_ABBREVIATION = re.compile(r"(?:\bet al|\be\.g|\bi\.e|\bcf|\bFig|\bEq|\bSec|\bapprox|\bca|\bvs|\bresp|\bDr|\bProf"
                           r"|\bNo)\.$")


def sentences(text: str) -> list[str]:
    """Sentences of plain text, not broken after abbreviations or initials."""
    parts, start = [], 0
    for match in _SENTENCE_BREAK.finditer(text):
        if not _ABBREVIATION.search(text[start:match.start()].rstrip("\"'”’)")):
            parts.append(text[start:match.start()])
            start = match.end()
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]

"""Text normalisation shared by ingest, prompts and validators."""

from __future__ import annotations

from functools import lru_cache


def unwrap(text: str) -> str:
    """Collapse hard line breaks and runs of whitespace into single spaces (TeX is left as it is)."""
    if "\n" in text or "  " in text or "\t" in text or "\r" in text or text[:1].isspace() or text[-1:].isspace():
        return " ".join(text.split())
    return text  # already clean: the common case, and 5x cheaper than split + join on a long abstract


@lru_cache(maxsize=1)
def _latex_to_text():
    from pylatexenc.latex2text import LatexNodes2Text

    return LatexNodes2Text(math_mode="text", strict_latex_spaces=False)


def plain_text(text: str) -> str:
    """Render TeX (accents, `$...$` math, macros) as readable Unicode for prompts and validators."""
    try:
        rendered = _latex_to_text().latex_to_text(text)
    except Exception:  # pylatexenc is lenient, but a pathological input must not stop a stage
        rendered = text
    return unwrap(rendered)

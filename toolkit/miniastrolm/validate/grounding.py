"""Grounding: names the abstract never gives. A small teacher fills explanations with invented people ("Dr.
Sarah Patel"), institutions, grants, journals, quotes and renamed surveys ("Gaia Dark Energy Survey"); none of
these may appear unless the abstract (or the title) has them. Common names every reader knows (Earth, the
Sun, the Milky Way, ...) are allowed; numbers, catalogue designations and instruments are the faithfulness
check's business."""

from __future__ import annotations

import re

from ..text import plain_text
from . import Verdict
from .format import words

_PERSON = re.compile(r"\b(?:Dr|Prof|Professor|Mr|Mrs|Ms|Sir|Dame)\.?\s+[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?"
                     r"|\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?,?\s+(?:said|says|explained|explains|told|noted|added)\b")
_QUOTE = re.compile(r"[\"“]([^\"”]{12,})[\"”]")
_INSTITUTION = re.compile(
    r"\b(?:[A-Z][a-z]+\s+){0,3}(?:University|Institute|Institution|Observatory|Laboratory|College|Foundation|"
    r"Agency|Academy|Society|Center|Centre|Council|Department)(?:\s+(?:of|for)(?:\s+[A-Z][a-z]+)+)?\b"
    r"|\b(?:NASA|ESA|NSF|MIT|Caltech|Harvard|Stanford|Princeton|Oxford|Cambridge|Berkeley|JPL|CERN|ESO|NOAA|"
    r"Max Planck|Smithsonian)\b")
_FUNDING = re.compile(r"[$€£]\s?\d|\b\d[\d,.]*\s?(?:million|billion)?\s?(?:dollars|euros|pounds)\b|"
                      r"\b(?:grant|grants|funded|funding|sponsored)\b", re.IGNORECASE)
_JOURNAL = re.compile(r"\b(?:Journal of|Astrophysical Journal|Physical Review|Monthly Notices|Nature Astronomy|"
                      r"Astronomy (?:&|and) Astrophysics|published in|arXiv)\b|\bin (?:the journal )?(?:Nature|"
                      r"Science)\b", re.IGNORECASE)
# Names a reader knows that explanations may use freely (lower case); sentence openers are checked separately.
COMMON_NAMES = frozenset(
    "i earth earths sun suns moon moons milky way universe big bang solar system galaxy mercury venus mars "
    "jupiter saturn uranus neptune pluto ceres einstein newton kepler galileo hubble english greek latin "
    "january february march april may june july august september october november december monday tuesday "
    "wednesday thursday friday saturday sunday north south east west northern southern arctic antarctic "
    "atlantic pacific ai".split())


_GREEK = {"α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta", "η": "eta",
          "θ": "theta", "κ": "kappa", "λ": "lambda", "μ": "mu", "ν": "nu", "ξ": "xi", "π": "pi", "ρ": "rho",
          "σ": "sigma", "τ": "tau", "φ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega", "Λ": "lambda", "Ω": "omega"}


def _known(abstract: str, title: str) -> set[str]:
    """Lower-case words of the title and abstract (possessives and plurals folded; a Greek letter also known by
    its name, so "Delta Scuti" matches "δ Scuti")."""
    source = plain_text(f"{title} {abstract}")
    known = {name for letter, name in _GREEK.items() if letter in source}
    for word in words(source):
        lower = re.sub(r"['’]s$", "", word.lower())
        known |= {lower, lower.rstrip("s"), lower + "s"}
    return known


def unknown_names(explanation: str, known: set[str]) -> list[str]:
    """Capitalised words and acronyms (not sentence openers) that neither the abstract nor the title uses
    (`known`: their words, `_known`) and that are not names every reader knows."""
    known = known | COMMON_NAMES
    found = []
    for match in re.finditer(r"\b[A-Z][A-Za-z]*(?:[-'][A-Za-z]+)*\b", explanation):
        name = match[0]
        parts = [part.lower() for part in re.split(r"[-'’]", name) if len(part) > 1]  # "Way's" -> "way"
        if all(part in known or part.rstrip("s") in known for part in parts):
            continue
        before = explanation[:match.start()].rstrip(" \t*#•-")  # list and heading marks open a sentence too
        if (not before or before[-1] in ".!?:;\"“(\n") and not name.isupper():
            continue  # an ordinary word opening a sentence ("Astronomers", "They")
        found.append(name)
    return list(dict.fromkeys(found))


def _absent(pattern: re.Pattern, explanation: str, known: set[str]) -> list[str]:
    """Matches in the explanation whose words are not all in the abstract."""
    return [match[0] for match in pattern.finditer(explanation)
            if not all(word.lower() in known for word in words(match[0]))]


def check_grounding(abstract: str, explanation: str, title: str = "") -> Verdict:
    """Score = number of ungrounded names (0 passes)."""
    known = _known(abstract, title)
    source = plain_text(abstract).lower()
    reasons = [f"invented_person: {name}" for name in _absent(_PERSON, explanation, known)]
    reasons += [f"invented_institution: {name}" for name in _absent(_INSTITUTION, explanation, known)]
    reasons += [f"invented_funding: {match[0]}" for match in _FUNDING.finditer(plain_text(explanation))
                if match[0].lower() not in source]
    reasons += [f"invented_journal: {match[0]}" for match in _JOURNAL.finditer(explanation)
                if match[0].lower() not in source]
    reasons += [f"invented_quote: {quote[:40]!r}" for quote in _QUOTE.findall(explanation)
                if quote.lower() not in source]
    flagged = " ".join(reasons)
    reasons += [f"unknown_name: {name}" for name in unknown_names(explanation, known) if name not in flagged]
    return Verdict("grounding", not reasons, float(len(reasons)), tuple(reasons))

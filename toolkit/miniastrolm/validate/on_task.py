"""On task: an explanation of this abstract -- not a refusal, not talk about being an AI, not the prompt
echoed back, and not obedience to instructions smuggled into the abstract (prompt injection)."""

from __future__ import annotations

import re

from . import Verdict
from .format import ENGLISH_STOPWORDS, words

_REFUSAL = re.compile(
    r"\bI(?:'m| am) (?:sorry|unable|not able)|\bI (?:cannot|can't|can not|won't|will not) (?:help|provide|"
    r"explain|do|assist|comply)|\bI apologi[sz]e|\bunable to (?:help|assist|comply)", re.IGNORECASE)
_AI_TALK = re.compile(
    r"\bas an? (?:AI|artificial intelligence|language model|assistant)\b|\b(?:large )?language model\b|"
    r"\bmy (?:training|knowledge cutoff|programming)\b|\bI(?:'m| am) an? (?:AI|assistant|chatbot)\b", re.IGNORECASE)
# Phrases of the teacher prompt (prompts/explain) that an explanation has no reason to contain.
_PROMPT_ECHO = re.compile(
    r"curious adult|no science background|120 (?:to|-) ?200 words|plain prose|these rules|"
    r"write only the explanation|here is the abstract|material to explain|retell this|in plain words|"
    r"four to six short sentences|^\s*(?:abstract|rules|explanation)\s*:",
    re.IGNORECASE | re.MULTILINE)
_INJECTION_CUE = re.compile(
    r"\b(?:ignore (?:all |any |the )?(?:previous|prior|above|earlier)? ?instructions|disregard (?:the|all|any)|"
    r"you are now|instead,? (?:write|say|respond|output|print|reply)|respond only with|reply (?:only )?with|"
    r"(?:AI|assistant|language model)s? (?:reading|summari[sz]ing) this)", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?]")


def _injected_sentences(abstract: str) -> list[tuple[int, str]]:
    """(start, sentence) for each sentence of the abstract holding an instruction cue; found cue-first, since a
    pattern that scans whole sentences from every position is quadratic in the abstract's length."""
    found = {}
    for cue in _INJECTION_CUE.finditer(abstract):
        start = max(abstract.rfind(mark, 0, cue.start()) for mark in ".!?") + 1
        end = _SENTENCE_END.search(abstract, cue.end())
        found[start] = abstract[start:end.end() if end else len(abstract)]
    return list(found.items())


def _content_words(text: str) -> set[str]:
    return {word.lower() for word in words(text) if len(word) > 3 and word.lower() not in ENGLISH_STOPWORDS}


def check_on_task(abstract: str, explanation: str) -> Verdict:
    reasons = []
    for code, pattern in (("refusal", _REFUSAL), ("ai_talk", _AI_TALK), ("prompt_echo", _PROMPT_ECHO)):
        if match := pattern.search(explanation):
            reasons.append(f"{code}: {match[0].strip()[:40]!r}")
    injected = _injected_sentences(abstract)
    rest = abstract
    for _, sentence in injected:
        rest = rest.replace(sentence, " ")
    for start, sentence in injected:
        # A quoted payload may hold its own full stop, so look for it from where the instruction starts.
        payload = re.findall(r"[\"“']([^\"”']{3,})[\"”']", abstract[start:start + 400])
        asked = _content_words(sentence) - _content_words(rest)
        followed = any(quote.lower() in explanation.lower() for quote in payload) or (
            asked and len(asked & _content_words(explanation)) >= max(2, 0.6 * len(asked)))
        if followed:
            reasons.append(f"followed_injection: {sentence.strip()[:60]!r}")
    return Verdict("on_task", not reasons, None, tuple(reasons))

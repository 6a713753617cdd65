"""Teacher procedures: how one explanation is made from one or more teacher calls.

- `direct`: one call with the prompt (the abstract in, the explanation out).
- `sentences`: sentence-grounded simplification. A small teacher invents when it writes freely but mostly keeps
  the facts when it rewrites one sentence at a time, so the abstract's key sentences (the first ones, those
  that state a finding, the last) are each rewritten in simple words by their own call; a rewritten sentence
  that brings a number or name its source lacks, or mostly new words, is dropped; "we" becomes "they"; up to
  three jargon terms get a one-line plain definition from `prompts/glossary.tsv` at first use (general
  background written for the project, inserted deterministically). Each call goes through the same teacher
  backend, so it works behind an endpoint too.
Every step is kept with the generation (`steps`), so a dataset can say how each explanation was made.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from .prompts import PROJECT_PROMPTS, Prompt
from .store import Paper
from .teacher import Job, Result
from .text import plain_text, sentences
from .validate.faithfulness import designations, instruments, number_problems
from .validate.format import ENGLISH_STOPWORDS, words

FINDING = re.compile(r"\b(?:find|found|show|shows|showed|reveal|reveals|suggest|suggests|indicate|indicates|"
                     r"demonstrate|demonstrates|conclude|detect|detected|discover|discovered|measure|measured|"
                     r"report|confirm|confirms|imply|implies)\b", re.IGNORECASE)
_PRONOUNS = {"we": "they", "We": "They", "our": "their", "Our": "Their", "us": "them", "ourselves": "themselves"}


@lru_cache(maxsize=4)
def glossary(path: str | None = None) -> dict[str, str]:
    """term (lower case) -> plain definition, longest terms first so "white dwarf" wins over "dwarf"."""
    file = Path(path) if path else PROJECT_PROMPTS / "glossary.tsv"
    with open(file, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return dict(sorted(((row["term"].strip().lower(), row["definition"].strip()) for row in rows),
                       key=lambda pair: -len(pair[0])))


# A definition goes in after a term only where the noun phrase ends: before punctuation or one of these words
# ("redshift surveys" must stay whole, "a redshift, the stretching of light..., is" reads fine).
_PHRASE_END = re.compile(r"\s*(?:[.,;:!?)]|(?:is|are|was|were|of|in|on|at|by|for|from|to|with|and|or|that|which|"
                         r"who|as|can|could|may|might|will|would|has|have|had)\b)", re.IGNORECASE)


def define_terms(text: str, terms: dict[str, str], limit: int = 3) -> tuple[str, list[str]]:
    """Add ", <definition>," after the first use of up to `limit` glossary terms that ends its noun phrase;
    (text, terms defined)."""
    defined: list[str] = []
    for term, definition in terms.items():
        if len(defined) >= limit:
            break
        match = re.search(rf"\b{re.escape(term)}(?:s|es)?\b", text, re.IGNORECASE)
        if not match or any(term in done or done in term for done in defined) or not _PHRASE_END.match(
                text, match.end()):
            continue
        after = text[match.end():match.end() + 1]
        insert = f", {definition}" + ("" if after in (".", ",", ";", ":", "!", "?", ")") else ",")
        text = text[:match.end()] + insert + text[match.end():]
        defined.append(term)
    return text, defined


def third_person(text: str) -> str:
    """The authors' "we" told as "they": an explanation speaks about the researchers, not as them."""
    return re.sub(r"\b(?:we|We|our|Our|us|ourselves)\b", lambda match: _PRONOUNS[match[0]], text)


def key_sentences(abstract: str, most: int) -> list[str]:
    """The first two sentences, those that state a finding, and the last, in the abstract's order."""
    found = sentences(plain_text(abstract))
    if len(found) <= most:
        return found
    chosen = {0, 1, len(found) - 1}
    for index, sentence in enumerate(found):
        if len(chosen) >= most:
            break
        if FINDING.search(sentence):
            chosen.add(index)
    return [found[index] for index in sorted(chosen)][:most]


def _content(text: str) -> set[str]:
    return {word.lower().rstrip("s") for word in words(text) if len(word) > 3} - ENGLISH_STOPWORDS


def ungrounded(source: str, rewrite: str, max_new_words: float) -> list[str]:
    """Why a rewrite strays from its source sentence: numbers, designations or instruments the sentence does
    not have, or too many new content words (a small model "simplifies" by adding a story)."""
    problems = number_problems(source, rewrite)[1]
    problems += [f"invented_object: {name}" for name in designations(rewrite) - designations(source)]
    problems += [f"invented_instrument: {name}" for name in instruments(rewrite) - instruments(source)]
    mine = _content(rewrite)
    new = len(mine - _content(source)) / len(mine) if mine else 0.0
    if new > max_new_words:
        problems.append(f"drifts: {new:.0%} of its content words are not in the sentence (max {max_new_words:.0%})")
    return problems


@dataclass
class Direct:
    prompt: Prompt
    name = "direct"

    def jobs(self, paper: Paper, sample: int, attempt: int, seed: int) -> list[Job]:
        return [Job(paper.arxiv_id, sample, attempt, self.prompt.messages(paper), seed)]

    def finish(self, paper: Paper, parts: list[Result]) -> Result:
        return parts[0]


@dataclass
class Sentences:
    prompt: Prompt
    most_sentences: int = 5
    terms: dict[str, str] | None = None
    max_new_words: float = 0.5
    name = "sentences"

    def jobs(self, paper: Paper, sample: int, attempt: int, seed: int) -> list[Job]:
        return [Job(paper.arxiv_id, sample, attempt, self.prompt.messages(paper, sentence=sentence), seed, part)
                for part, sentence in enumerate(key_sentences(paper.abstract, self.most_sentences))]

    def finish(self, paper: Paper, parts: list[Result]) -> Result:
        """Join the kept rewrites into one explanation; failed when no rewrite could be kept."""
        sources = key_sentences(paper.abstract, self.most_sentences)
        kept, steps = [], []
        for source, part in zip(sources, sorted(parts, key=lambda result: result.job.part), strict=True):
            dropped = {}  # each sentence of the rewrite is kept only when grounded in the source sentence
            for sentence in [] if part.error else sentences(" ".join((part.output or "").split())):
                if problems := ungrounded(source, sentence, self.max_new_words):
                    dropped[sentence] = problems
                else:
                    kept.append(third_person(sentence))
            steps.append({"step": "rewrite", "source": source, "output": part.output,
                          "finish_reason": part.finish_reason, "error": part.error, "dropped": dropped})
        text, defined = define_terms(" ".join(kept), self.terms or {})
        steps.append({"step": "glossary", "defined": defined})
        last = parts[-1]
        return replace(
            last, job=replace(last.job, part=0), output=text or None,
            finish_reason="stop",  # a rewrite cut off by max_new_tokens is dropped, never joined
            prompt_tokens=sum(part.prompt_tokens or 0 for part in parts),
            completion_tokens=sum(part.completion_tokens or 0 for part in parts),
            latency_ms=max(part.latency_ms or 0.0 for part in parts),
            error=None if kept else "no rewritten sentence was grounded in its source sentence", steps=steps)

"""Faithful decoding: the vocabulary tokens a teacher may not generate for one abstract, so that it cannot
write a number, acronym or proper name the abstract lacks (the small teacher's commonest fault, ratings/).

One rule for every engine (llama.cpp: a per-sequence logit bias; transformers: a logits processor):
- a token whose text holds a digit is banned unless its text occurs in the abstract;
- a token holding two or more capitals ("NASA", "JW") is banned unless its text occurs in the abstract;
- a capitalised word ("Hubble", " Harvard") is banned unless it occurs in the abstract or the vocabulary also
  has it in lower case (" The" / " the": an ordinary word at a sentence start, not a name).
On top of that, numbers are followed token by token (`Vocabulary.step`): a digit may come next only when the
number it extends is the start of one of the abstract's numbers, and a number that is only the start of one
must go on. So an invented number cannot be written at all (not even "2222" from an abstract's "4258"), and
names are strongly held back, though a model could still spell one from smaller pieces.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

_CAPITALS = re.compile(r"[A-Z].*[A-Z]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_TRAILING_NUMBER = re.compile(r"\d+(?:[.,]\d+)*[.,]?$")
TAIL_TOKENS = 8  # generated tokens decoded to find the number being written
_CAPITALISED = re.compile(r"[A-Z][a-z]+")


@dataclass(frozen=True)
class Vocabulary:
    """The tokens the rule looks at, found once per tokenizer: (id, text stripped of spaces)."""

    digits: tuple[tuple[int, str], ...]  # as the token decodes, spaces kept
    capitals: tuple[tuple[int, str], ...]  # two or more capitals: acronyms, designations
    names: tuple[tuple[int, str], ...]  # capitalised words with no lower-case twin in the vocabulary
    separators: tuple[tuple[int, str], ...] = ()  # "." and ",": inside a number ("3.5") as well as after words

    @classmethod
    def from_pieces(cls, pieces: Sequence[str]) -> Vocabulary:
        """`pieces[i]` is token i's text as it decodes (a leading space included)."""
        stripped = [piece.strip() for piece in pieces]
        lower = {text for text in stripped if text.islower()}
        return cls(
            digits=tuple((i, piece) for i, piece in enumerate(pieces) if any(c.isdigit() for c in piece)),
            capitals=tuple((i, text) for i, text in enumerate(stripped) if _CAPITALS.search(text)),
            names=tuple((i, text) for i, text in enumerate(stripped)
                        if _CAPITALISED.fullmatch(text) and text.lower() not in lower),
            separators=tuple((i, piece) for i, piece in enumerate(pieces) if piece in (".", ",")))

    def constraint(self, abstract: str) -> Constraint:
        return Constraint(self, abstract)

    def banned(self, abstract: str) -> list[int]:
        """Token ids the teacher may not generate anywhere when it explains `abstract`."""
        return [i for group in (self.digits, self.capitals, self.names) for i, text in group
                if text.strip() not in abstract]

    def step(self, abstract: str, text: str) -> tuple[list[int], list[int] | None]:
        """After the generated `text` (its last few tokens suffice): (digit tokens banned now, or the only
        tokens allowed when a number must go on to become one of the abstract's)."""
        numbers, starts = _numbers(abstract)
        allowed, banned = [], []
        for i, piece in self.digits:
            joined = text + piece
            written = [match for match in _NUMBER.finditer(joined) if match.end() > len(text)]
            fits = all((match[0] in starts) if match.end() == len(joined) else (match[0] in numbers)
                       for match in written)
            (allowed if fits else banned).append(i)
        running = _TRAILING_NUMBER.search(text)
        unfinished = running is not None and running[0] not in numbers and running[0].rstrip(".,") not in numbers
        if unfinished:  # "3" of "3.5" goes on with its point
            allowed += [i for i, piece in self.separators if running[0] + piece in starts]
        return banned, allowed if unfinished and allowed else None


@lru_cache(maxsize=64)
def _numbers(abstract: str) -> tuple[frozenset[str], frozenset[str]]:
    """The abstract's numbers as written, and every start of one."""
    numbers = frozenset(_NUMBER.findall(abstract))
    return numbers, frozenset(number[:end] for number in numbers for end in range(1, len(number) + 1))


class Constraint(list):
    """Faithful decoding for one abstract: the token ids banned throughout (it is that list, as the engines take
    it) and the per-token number rule (`step`)."""

    def __init__(self, vocabulary: Vocabulary, abstract: str):
        super().__init__(vocabulary.banned(abstract))
        self.vocabulary, self.abstract = vocabulary, abstract

    def step(self, text: str) -> tuple[list[int], list[int] | None]:
        return self.vocabulary.step(self.abstract, text)

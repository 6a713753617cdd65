"""Every validator, in one list: its name, its function, the `Thresholds` fields it reads and its kind. The
filter, `check`, `explain`, export's score columns and the help texts all come from `VALIDATORS`.

Adding a validator: `validate/<name>.py` (its function takes the thresholds it reads as keywords named like the
fields), its threshold fields in `Thresholds` (help starting "<name>: "), one `Validator` entry below, a test.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple

import orjson
from tqdm.auto import tqdm

from . import Item, Verdict
from .copying import check_copying
from .degeneration import check_degeneration
from .faithfulness import check_faithfulness
from .format import check_format
from .grounding import check_grounding
from .near_duplicates import check_near_duplicates
from .on_task import check_on_task
from .readability import check_readability
from .similarity import check_similarities


@dataclass
class Thresholds:
    """Every validator's threshold: one definition for `filter`, `check` and `explain`. Each help text starts
    with the name of the validator that reads the field."""

    min_words: int = field(default=100, metadata={"help": "format: fewest words"})
    max_words: int = field(default=240, metadata={"help": "format: most words"})
    min_english_share: float = field(default=0.1, metadata={"help": "format: share of common English words"})
    copy_ngram: int = field(default=4, metadata={"help": "copying: n of the word n-grams compared"})
    max_copy_overlap: float = field(default=0.35, metadata={"help": "copying: most n-grams shared with the abstract"})
    min_grade: float = field(default=4.0, metadata={"help": "readability: lowest Flesch-Kincaid grade"})
    max_grade: float = field(default=13.0, metadata={
        "help": "readability: highest Flesch-Kincaid grade (explanations readers accepted: 7.8-12.9, ratings/)"})
    max_dale_chall: float = field(default=12.0, metadata={
        "help": "readability: highest Dale-Chall score (explanations readers accepted: 9.4-12.0; abstracts ~12-14)"})
    min_similarity: float = field(default=0.55, metadata={
        "help": "similarity: lowest MiniLM cosine to the abstract (on-topic ~0.69-0.95, another paper's ~0.48)"})
    loop_ngram: int = field(default=4, metadata={"help": "degeneration: n of the word n-grams counted for loops"})
    max_ngram_repeats: int = field(default=2, metadata={
        "help": "degeneration: most times one word n-gram may occur (more is a loop)"})
    min_distinct_bigrams: float = field(default=0.8, metadata={
        "help": "degeneration: lowest share of distinct word pairs (rambling repeats itself)"})
    near_duplicate_jaccard: float = field(
        default=0.8, metadata={"help": "near_duplicate: estimated Jaccard (5-gram shingles) that flags two papers' "
                                       "explanations as the same text"})

    def thresholds(self) -> dict:
        return {key: getattr(self, key) for key in Thresholds.__dataclass_fields__}

    def name(self) -> str:
        return hashlib.sha256(orjson.dumps(self.thresholds(), option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]


class Kind(str, Enum):
    """How a validator runs (see the call shapes in `validate/__init__.py`)."""

    PER_ITEM = "per item"
    BATCHED_MODEL = "batched model"
    ACROSS_SET = "across the set"


class Validator(NamedTuple):
    name: str
    kind: Kind
    function: Callable
    thresholds: tuple[str, ...] = ()  # the Thresholds fields it reads, passed as keywords of the same name
    title: bool = False  # per item: also given the paper's title (its facts and names count as known)

    def settings(self, thresholds: Thresholds) -> dict:
        return {name: getattr(thresholds, name) for name in self.thresholds}


# In the order verdicts are listed (and export's score columns).
VALIDATORS = (
    Validator("format", Kind.PER_ITEM, check_format, ("min_words", "max_words", "min_english_share")),
    Validator("on_task", Kind.PER_ITEM, check_on_task),
    Validator("copying", Kind.PER_ITEM, check_copying, ("copy_ngram", "max_copy_overlap")),
    Validator("readability", Kind.PER_ITEM, check_readability, ("max_grade", "min_grade", "max_dale_chall")),
    Validator("faithfulness", Kind.PER_ITEM, check_faithfulness, title=True),
    Validator("degeneration", Kind.PER_ITEM, check_degeneration,
              ("loop_ngram", "max_ngram_repeats", "min_distinct_bigrams")),
    Validator("grounding", Kind.PER_ITEM, check_grounding, title=True),
    Validator("similarity", Kind.BATCHED_MODEL, check_similarities, ("min_similarity",)),
    Validator("near_duplicate", Kind.ACROSS_SET, check_near_duplicates, ("near_duplicate_jaccard",)),
)
NAMES = tuple(validator.name for validator in VALIDATORS)


def describe() -> str:
    """The validators by kind, for help texts: "format, on_task, ... (per item); similarity (batched model); ..."."""
    return "; ".join(f"{', '.join(v.name for v in VALIDATORS if v.kind is kind)} ({kind.value})" for kind in Kind
                     if any(v.kind is kind for v in VALIDATORS))


def judge(items: list[Item], thresholds: Thresholds, progress: bool = False) -> dict[int, list[Verdict]]:
    """Every validator on every item, verdicts in `VALIDATORS` order: what `filter`, `check` and `explain` run."""
    settings = {v.name: v.settings(thresholds) for v in VALIDATORS}
    over_set = {}  # the validators that run over all items at once: name -> one verdict per item
    for v in VALIDATORS:
        if v.kind is Kind.BATCHED_MODEL:
            over_set[v.name] = v.function(items, **settings[v.name], progress=progress)
        elif v.kind is Kind.ACROSS_SET:
            over_set[v.name] = v.function(items, **settings[v.name])
    judged = {}
    bar = tqdm(enumerate(items), total=len(items), desc="validate", disable=None if progress else True)
    for position, item in bar:
        verdicts = []
        for v in VALIDATORS:
            if v.kind is not Kind.PER_ITEM:
                verdicts.append(over_set[v.name][position])
                continue
            title = {"title": item.title} if v.title else {}
            verdicts.append(v.function(item.abstract, item.explanation, **settings[v.name], **title))
        judged[item.key] = verdicts
    return judged


def judge_one(abstract: str, explanation: str, thresholds: Thresholds, title: str = "") -> list[Verdict]:
    """Every validator on one explanation (the student's own output); it has no set to be a duplicate in."""
    return judge([Item(0, "", abstract, explanation, title)], thresholds)[0]

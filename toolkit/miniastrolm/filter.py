"""Filter: run every validator on every successful generation and store each verdict with its reasons.

Thresholds live in the recipe; the recipe's hash names the verdict set, so re-running is idempotent and a
changed threshold gives a new, comparable set. The report counts rejections per reason and pass rates per
sub-category, printed and written as markdown.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import orjson
from tqdm.auto import tqdm

from .selection import best_per_paper
from .store import DEFAULT_DB, Store
from .validate import Verdict
from .validate.copying import check_copying
from .validate.degeneration import check_degeneration
from .validate.faithfulness import check_faithfulness
from .validate.format import check_format
from .validate.grounding import check_grounding
from .validate.near_duplicates import near_duplicates
from .validate.on_task import check_on_task
from .validate.readability import check_readability
from .validate.similarity import similarities, similarity_verdict


@dataclass
class Thresholds:
    """Every validator's threshold: one definition for `filter`, `check` and `explain`."""

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


@dataclass
class FilterConfig(Thresholds):
    db: str = field(default=DEFAULT_DB, metadata={"help": "SQLite store"})
    batch: int | None = field(default=None, metadata={"help": "labelling batch id to filter (default: all)"})
    report: str = field(default="runs/filter/filter_report.md", metadata={"help": "markdown report path"})


# Every validator, in the order verdicts are listed: the per-item ones (`validate`), then MiniLM similarity
# (batched over the set) and near-duplicates (across the set). Export's score columns come from this list.
VALIDATORS = ("format", "on_task", "copying", "readability", "faithfulness", "degeneration", "grounding",
              "similarity", "near_duplicate")


def validate(abstract: str, explanation: str, config: Thresholds, title: str = "") -> list[Verdict]:
    """The per-explanation validators that need no model; similarity (MiniLM, batched) and near-duplicates
    (across papers) are added by `judge` over the whole set."""
    return [
        check_format(abstract, explanation, min_words=config.min_words, max_words=config.max_words,
                     min_english_share=config.min_english_share),
        check_on_task(abstract, explanation),
        check_copying(abstract, explanation, n=config.copy_ngram, max_overlap=config.max_copy_overlap),
        check_readability(abstract, explanation, max_grade=config.max_grade, min_grade=config.min_grade,
                          max_dale_chall=config.max_dale_chall),
        check_faithfulness(f"{title}\n{abstract}" if title else abstract, explanation),  # the title's facts count
        check_degeneration(abstract, explanation, loop_ngram=config.loop_ngram,
                           max_ngram_repeats=config.max_ngram_repeats,
                           min_distinct_bigrams=config.min_distinct_bigrams),
        check_grounding(abstract, explanation, title),
    ]


class Item(NamedTuple):
    """One explanation to judge; `key` names it in the result, `paper` groups near-duplicates."""

    key: int
    paper: str
    abstract: str
    explanation: str
    title: str = ""


def judge(items: list[Item], config: Thresholds, progress: bool = False) -> dict[int, list[Verdict]]:
    """Every validator (`VALIDATORS`) on every item: what `filter`, `check` and `explain` all run."""
    scores = similarities([item.abstract for item in items], [item.explanation for item in items],
                          progress=progress) if items else []
    duplicates = near_duplicates([(item.key, item.paper, item.explanation) for item in items],
                                 threshold=config.near_duplicate_jaccard)
    judged = {}
    bar = tqdm(zip(items, scores, strict=True), total=len(items), desc="validate", disable=None if progress else True)
    for item, score in bar:
        duplicate = duplicates.get(item.key)
        judged[item.key] = [*validate(item.abstract, item.explanation, config, item.title),
                            similarity_verdict(score, config.min_similarity),
                            Verdict("near_duplicate", duplicate is None, None, (duplicate,) if duplicate else ())]
    return judged


def check_explanation(abstract: str, explanation: str, config: Thresholds, title: str = "") -> list[Verdict]:
    """Every validator on one explanation (the student's own output)."""
    return judge([Item(0, "", abstract, explanation, title)], config)[0]


@dataclass
class FilterReport:
    filter: str
    generations: int = 0
    passed: int = 0
    reasons: Counter = field(default_factory=Counter)
    by_category: dict = field(default_factory=lambda: defaultdict(lambda: [0, 0]))  # category -> [passed, total]
    papers_selected: int | None = None  # papers with a passing explanation (best-of-N keeps one each)

    def markdown(self) -> str:
        lines = [f"# Filter report `{self.filter}`", "",
                 f"{self.passed} of {self.generations} generations pass every validator "
                 f"({self.passed / max(self.generations, 1):.0%})."
                 + ("" if self.papers_selected is None else
                    f" {self.papers_selected} papers have at least one; the export keeps the best per paper."),
                 "",
                 "| rejection reason | generations |", "|---|---|"]
        lines += [f"| {reason} | {count} |" for reason, count in self.reasons.most_common()]
        lines += ["", "| sub-category | passed | total | pass rate |", "|---|---|---|---|"]
        lines += [f"| {category} | {ok} | {total} | {ok / total:.0%} |"
                  for category, (ok, total) in sorted(self.by_category.items())]
        return "\n".join(lines) + "\n"


def report_from_store(store: Store, name: str, batch: int | None = None) -> FilterReport:
    """Rebuild the report of verdict set `name` from the store (the export's dataset card reuses it)."""
    report = FilterReport(name)
    for category, passed, reasons in store.verdicts_by_generation(name, batch):
        report.generations += 1
        report.passed += passed
        report.by_category[category][0] += passed
        report.by_category[category][1] += 1
        report.reasons.update({reason.split(":", 1)[0] for group in reasons for reason in group})
    return report


def run_filter(config: FilterConfig, progress: bool = True) -> FilterReport:
    name = config.name()
    with Store(config.db) as store:
        items = [Item(*row) for row in store.ok_generations(config.batch)]
        store.record_verdicts(name, config.thresholds(), judge(items, config, progress))
        report = report_from_store(store, name, config.batch)
        report.papers_selected = len(best_per_paper(store, name, config.batch))
    Path(config.report).parent.mkdir(parents=True, exist_ok=True)
    Path(config.report).write_text(report.markdown(), encoding="utf-8")
    return report

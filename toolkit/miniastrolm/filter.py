"""Filter: run every validator on every successful generation and store each verdict with its reasons.

Thresholds live in the recipe; the recipe's hash names the verdict set, so re-running is idempotent and a
changed threshold gives a new, comparable set. The report counts rejections per reason and pass rates per
sub-category, printed and written as markdown.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson
from tqdm.auto import tqdm

from .selection import best_per_paper
from .store import DEFAULT_DB, Store, utc_now
from .validate import Verdict
from .validate.copying import check_copying
from .validate.faithfulness import check_faithfulness
from .validate.format import check_format
from .validate.near_duplicates import near_duplicates
from .validate.on_task import check_on_task
from .validate.readability import check_readability
from .validate.similarity import similarities, similarity_verdict


@dataclass
class FilterConfig:
    db: str = field(default=DEFAULT_DB, metadata={"help": "SQLite store"})
    batch: int | None = field(default=None, metadata={"help": "labelling batch id to filter (default: all)"})
    min_words: int = field(default=100, metadata={"help": "format: fewest words"})
    max_words: int = field(default=240, metadata={"help": "format: most words"})
    min_english_share: float = field(default=0.1, metadata={"help": "format: share of common English words"})
    copy_ngram: int = field(default=4, metadata={"help": "copying: n of the word n-grams compared"})
    max_copy_overlap: float = field(default=0.35, metadata={"help": "copying: most n-grams shared with the abstract"})
    min_grade: float = field(default=4.0, metadata={"help": "readability: lowest Flesch-Kincaid grade"})
    max_grade: float = field(default=12.0, metadata={"help": "readability: highest Flesch-Kincaid grade"})
    max_dale_chall: float = field(default=10.0, metadata={
        "help": "readability: highest Dale-Chall score (our plain explanations score ~9.3-9.6, abstracts ~11+)"})
    min_similarity: float = field(default=0.55, metadata={
        "help": "similarity: lowest MiniLM cosine to the abstract (on-topic ~0.69-0.95, another paper's ~0.48)"})
    near_duplicate_jaccard: float = field(
        default=0.8, metadata={"help": "near_duplicate: estimated Jaccard (5-gram shingles) that flags two papers' "
                                       "explanations as the same text"})
    report: str = field(default="filter_report.md", metadata={"help": "markdown report path"})

    def thresholds(self) -> dict:
        return {key: value for key, value in asdict(self).items() if key not in ("db", "batch", "report")}

    def name(self) -> str:
        return hashlib.sha256(orjson.dumps(self.thresholds(), option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]


def validate(abstract: str, explanation: str, config: FilterConfig) -> list[Verdict]:
    """The per-explanation validators that need no model; similarity (MiniLM, batched) and near-duplicates
    (across papers) are run by `run_filter` over the whole set."""
    return [
        check_format(abstract, explanation, min_words=config.min_words, max_words=config.max_words,
                     min_english_share=config.min_english_share),
        check_on_task(abstract, explanation),
        check_copying(abstract, explanation, n=config.copy_ngram, max_overlap=config.max_copy_overlap),
        check_readability(abstract, explanation, max_grade=config.max_grade, min_grade=config.min_grade,
                          max_dale_chall=config.max_dale_chall),
        check_faithfulness(abstract, explanation),
    ]


def check_explanation(abstract: str, explanation: str, config: FilterConfig) -> list[Verdict]:
    """Every per-explanation validator, MiniLM similarity included: for one explanation at a time (the student's
    own output); `run_filter` batches the similarity over the whole set instead."""
    return [*validate(abstract, explanation, config),
            similarity_verdict(similarities([abstract], [explanation])[0], config.min_similarity)]


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
    rows = store.db.execute(
        "SELECT p.primary_category, min(v.passed), json_group_array(v.reasons) FROM verdicts v "
        "JOIN generations g ON g.id = v.generation JOIN papers p ON p.arxiv_id = g.paper "
        "WHERE v.filter = ? AND (? IS NULL OR g.batch = ?) GROUP BY v.generation", (name, batch, batch))
    for category, passed, reasons in rows:
        report.generations += 1
        report.passed += passed
        report.by_category[category][0] += passed
        report.by_category[category][1] += 1
        report.reasons.update({reason.split(":", 1)[0] for group in orjson.loads(reasons)
                               for reason in orjson.loads(group)})
    return report


def run_filter(config: FilterConfig, progress: bool = True) -> FilterReport:
    name = config.name()
    with Store(config.db) as store:
        query = ("SELECT g.id, p.abstract, g.output, g.paper FROM generations g "
                 "JOIN papers p ON p.arxiv_id = g.paper WHERE g.status = 'ok'")
        rows = store.db.execute(query + (" AND g.batch = ?" if config.batch else "") + " ORDER BY g.id",
                                (config.batch,) if config.batch else ()).fetchall()
        now = utc_now()
        store.db.execute("INSERT OR IGNORE INTO filters (name, thresholds, created_at) VALUES (?, ?, ?)",
                         (name, orjson.dumps(config.thresholds()).decode(), now))
        scores = similarities([row[1] for row in rows], [row[2] for row in rows]) if rows else []
        duplicates = near_duplicates([(row[0], row[3], row[2]) for row in rows],
                                     threshold=config.near_duplicate_jaccard)
        bar = tqdm(zip(rows, scores, strict=True), total=len(rows), desc="filter", disable=None if progress else True)
        for (generation, abstract, output, _), score in bar:
            duplicate = duplicates.get(generation)
            verdicts = [*validate(abstract, output, config), similarity_verdict(score, config.min_similarity),
                        Verdict("near_duplicate", duplicate is None, None, (duplicate,) if duplicate else ())]
            store.db.executemany(
                "INSERT INTO verdicts (generation, filter, validator, passed, score, reasons, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(generation, filter, validator) DO UPDATE SET "
                "passed = excluded.passed, score = excluded.score, reasons = excluded.reasons",
                [(generation, name, v.validator, v.passed, v.score, orjson.dumps(list(v.reasons)).decode(), now)
                 for v in verdicts])
        store.db.commit()
        report = report_from_store(store, name, config.batch)
        report.papers_selected = len(best_per_paper(store, name, config.batch))
    Path(config.report).parent.mkdir(parents=True, exist_ok=True)
    Path(config.report).write_text(report.markdown(), encoding="utf-8")
    return report

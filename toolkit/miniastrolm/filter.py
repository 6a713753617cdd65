"""Filter: run every validator (`validate/registry.py`) on every successful generation and store each verdict
with its reasons.

Thresholds live in the recipe; the recipe's hash names the verdict set, so re-running is idempotent and a
changed threshold gives a new, comparable set. The report counts rejections per reason and pass rates per
sub-category, printed and written as markdown.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .selection import best_per_paper
from .store import DEFAULT_DB, Store
from .validate import Item
from .validate.registry import Thresholds, judge


@dataclass
class FilterConfig(Thresholds):
    db: str = field(default=DEFAULT_DB, metadata={"help": "SQLite store"})
    batch: int | None = field(default=None, metadata={"help": "labelling batch id to filter (default: all)"})
    report: str = field(default="runs/filter/filter_report.md", metadata={"help": "markdown report path"})


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

"""Best-of-N: with several samples per paper, keep the best one that passed every validator.

Selection score = similarity - copy_overlap: among explanations that already pass every check, prefer the
one whose meaning is closest to the abstract (MiniLM cosine) while sharing the fewest word 4-grams with it
(its own words, not a paraphrase). Ties go to the lower sample index, so the choice is deterministic.
"""

from __future__ import annotations

from typing import NamedTuple

from .store import Store


class Selected(NamedTuple):
    generation: int
    arxiv_id: str
    title: str
    abstract: str
    categories: str
    primary_category: str
    explanation: str
    teacher_model: str
    prompt_version: str
    batch: int
    sample: int
    scores: dict[str, float | None]
    selection_score: float
    candidates: int  # passing samples of this paper the choice was made from


def selection_score(scores: dict[str, float | None]) -> float:
    return (scores.get("similarity") or 0.0) - (scores.get("copying") or 0.0)


def best_per_paper(store: Store, filter_name: str, batch: int | None = None) -> list[Selected]:
    """One explanation per paper whose every verdict under `filter_name` passed, ordered by arXiv id."""
    best: dict[str, Selected] = {}
    counts: dict[str, int] = {}
    for *head, scores in store.passing_generations(filter_name, batch):
        candidate = Selected(*head, scores, round(selection_score(scores), 4), 0)
        counts[candidate.arxiv_id] = counts.get(candidate.arxiv_id, 0) + 1
        current = best.get(candidate.arxiv_id)
        if current is None or candidate.selection_score > current.selection_score:
            best[candidate.arxiv_id] = candidate
    return [chosen._replace(candidates=counts[arxiv_id]) for arxiv_id, chosen in sorted(best.items())]

"""Best-of-N: with several samples per paper, keep the best one that passed every validator.

Selection score = similarity - copy_overlap: among explanations that already pass every check, prefer the
one whose meaning is closest to the abstract (MiniLM cosine) while sharing the fewest word 4-grams with it
(its own words, not a paraphrase). Ties go to the lower sample index, so the choice is deterministic.

The export also honours people's decisions (`miniastrolm review`, see `curate`): a reject always wins, an accept
or an edit makes a generation eligible whatever the validators said (an edit's text becomes the label), and a
person's approval outranks the score.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from .store import Candidate, Review, Store


def selection_score(scores: dict[str, float | None]) -> float:
    return (scores.get("similarity") or 0.0) - (scores.get("copying") or 0.0)


def _best(eligible: list[Candidate]) -> list[Candidate]:
    """One per paper, ordered by arXiv id: approved by a person first, then the highest selection score, then the
    lowest sample."""
    papers: dict[str, list[Candidate]] = {}
    for candidate in eligible:
        papers.setdefault(candidate.arxiv_id, []).append(candidate)
    return [min(group, key=lambda s: (s.review is None, -s.selection_score, s.sample, s.generation))
            ._replace(candidates=len(group)) for _, group in sorted(papers.items())]


def _selected(candidate: Candidate, review: Review | None) -> Candidate:
    """The candidate as an export row (`review`: the decision honoured, None to go by the filter alone); with an
    edit, the edited text is its explanation."""
    selected = candidate._replace(selection_score=round(selection_score(candidate.scores), 4), review=review)
    return selected._replace(explanation=review.edited) if review and review.decision == "edit" else selected


def best_per_paper(store: Store, filter_name: str, batch: int | None = None) -> list[Candidate]:
    """One explanation per paper whose every verdict under `filter_name` passed, by the filter alone (no person's
    decision), ordered by arXiv id."""
    return _best([_selected(c, None) for c in store.review_candidates(filter_name, batch) if c.passed])


FILTER_STATES = ("passed", "failed", "not judged")
DECISIONS = ("accept", "edit", "reject", None)  # None: not reviewed


@dataclass
class Curation:
    """The export's choice with people's decisions applied, and the counts the dataset card shows."""

    chosen: list[Candidate]
    explanations: Counter  # (decision, filter state) -> successful generations
    exported: Counter  # (decision, filter state) -> rows in the dataset
    reviewers: list[str]

    def rows(self, decisions: tuple[str | None, ...], states: tuple[str, ...] = FILTER_STATES) -> int:
        return sum(self.exported[decision, state] for decision in decisions for state in states)

    def markdown(self) -> str:
        if not self.reviewers:
            return "Nobody reviewed these explanations (`miniastrolm review`): the filter alone chose the rows.\n"
        lines = [f"Reviewed by {', '.join(self.reviewers)} with `miniastrolm review`. A reject always wins; an "
                 "accepted or edited explanation may be exported although a validator disagreed; an edit's text is "
                 "the label (the row's `review` says who decided and when; the teacher's text stays in the store).",
                 "", "| decision | explanations | the filter passed | the filter failed | not judged | rows in this "
                 "dataset |",
                 "|---|---|---|---|---|---|"]
        for decision in DECISIONS:
            counts = [self.explanations[decision, state] for state in FILTER_STATES]
            lines.append(f"| {decision or 'not reviewed'} | {sum(counts)} | {' | '.join(map(str, counts))} | "
                         f"{self.rows((decision,))} |")
        lines += ["", f"- rejected although the filter passed them: {self.explanations['reject', 'passed']}",
                  f"- rows accepted or edited although a validator disagreed or none judged them: "
                  f"{self.rows(('accept', 'edit'), FILTER_STATES[1:])}",
                  f"- rows whose explanation is a person's edit: {self.rows(('edit',))}"]
        return "\n".join(lines) + "\n"


def _state(passed: bool | None) -> str:
    return "not judged" if passed is None else "passed" if passed else "failed"


def curate(store: Store, filter_name: str, batch: int | None = None) -> Curation:
    """One explanation per paper with people's decisions applied: a rejected generation is never exported; an
    accepted or edited one is eligible whatever its verdicts (an edit's text is the label); an unreviewed one is
    eligible when it passed every verdict under `filter_name`. Among a paper's eligible samples a person's
    approval comes first, then the selection score (of the teacher's text)."""
    candidates = store.review_candidates(filter_name, batch)
    standing = {c.generation: (c.review.decision if c.review else None, _state(c.passed)) for c in candidates}
    eligible = [_selected(c, c.review) for c in candidates
                if standing[c.generation][0] in ("accept", "edit") or (c.review is None and c.passed)]
    chosen = _best(eligible)
    return Curation(chosen, Counter(standing.values()), Counter(standing[s.generation] for s in chosen),
                    sorted({c.review.reviewer for c in candidates if c.review}))

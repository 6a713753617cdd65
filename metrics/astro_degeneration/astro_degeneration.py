"""astro_degeneration: how often explanations stop being explanations (loops, repeats, made-up words, talk about
"the abstract"), computed by MiniAstroLM's own degeneration validator so the metric, the filter and
`miniastrolm eval` can never disagree."""

from __future__ import annotations

import statistics

import datasets
import evaluate

from miniastrolm.validate.degeneration import check_degeneration

_DESCRIPTION = """Over (source abstract, explanation) pairs: degenerate_rate, the share of explanations the
degeneration validator fails (a sentence said twice, a word 4-gram said more than twice, under 80 % distinct word
pairs, a word no English word list knows that the abstract does not use either, or talk about "the abstract"
instead of the research), and distinct_bigrams, the mean share of distinct word pairs (1.0 = no pair said
twice). `per_item=True` returns each pair's values (degenerate_rate as 0/1)."""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of str): the explanations.
    sources (list of str): the abstract of each explanation (its words are not "made up").
    per_item (bool, default False): return each pair's values instead of the means.
Returns:
    degenerate_rate (float in [0, 1]) and distinct_bigrams (float in [0, 1]), or one value each per pair.
Examples:
    >>> metric = evaluate.load("metrics/astro_degeneration")
    >>> metric.compute(predictions=["Stars shine. Stars shine."], sources=["Stars shine."])["degenerate_rate"]
    1.0
"""

_CITATION = ""  # no publication: the checks are MiniAstroLM's own (see the metric card)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class AstroDegeneration(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation=_CITATION, inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string"), "sources": datasets.Value("string")}))

    def _compute(self, predictions: list[str], sources: list[str], per_item: bool = False) -> dict:
        verdicts = [check_degeneration(source, text) for source, text in zip(sources, predictions, strict=True)]
        values = {"degenerate_rate": [float(not verdict.passed) for verdict in verdicts],
                  "distinct_bigrams": [verdict.score for verdict in verdicts]}
        return values if per_item else {key: statistics.fmean(found) for key, found in values.items()}

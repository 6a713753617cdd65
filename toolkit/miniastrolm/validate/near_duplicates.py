"""Near-duplicates across papers: a teacher that falls back on a stock text gives many papers the same
explanation. MinHash over word 5-gram shingles with LSH (datasketch) finds them in one pass; the first
explanation of each cluster is kept, the others are flagged. Set-level, so it runs after the per-item checks."""

from __future__ import annotations

from datasketch import MinHash, MinHashLSH

from . import Item, Verdict
from .copying import ngrams


def minhash(text: str, num_perm: int, shingle: int) -> MinHash:
    signature = MinHash(num_perm=num_perm, seed=1)
    for gram in ngrams(text, shingle) or {tuple(text.lower().split())}:
        signature.update(" ".join(gram).encode("utf-8"))
    return signature


def near_duplicates(items: list[tuple[int, str, str]], *, threshold: float = 0.8, num_perm: int = 128,
                    shingle: int = 5) -> dict[int, str]:
    """items: (generation id, paper, explanation) in a stable order -> {generation id: reason} for each
    explanation too close (estimated Jaccard >= threshold) to an earlier one of another paper."""
    index = MinHashLSH(threshold=threshold, num_perm=num_perm)
    owner: dict[str, tuple[int, str]] = {}
    flagged = {}
    for generation, paper, text in items:
        signature = minhash(text, num_perm, shingle)
        earlier = [owner[key] for key in index.query(signature) if owner[key][1] != paper]
        if earlier:
            first = min(earlier)
            flagged[generation] = f"near_duplicate: of generation {first[0]} (paper {first[1]})"
            continue
        key = str(generation)
        index.insert(key, signature)
        owner[key] = (generation, paper)
    return flagged


def check_near_duplicates(items: list[Item], *, near_duplicate_jaccard: float = 0.8) -> list[Verdict]:
    """The across-the-set validator: one verdict per item, in order (items of one paper never flag each other)."""
    flagged = near_duplicates([(item.key, item.paper, item.explanation) for item in items],
                              threshold=near_duplicate_jaccard)
    return [Verdict("near_duplicate", item.key not in flagged, None,
                    (flagged[item.key],) if item.key in flagged else ()) for item in items]

"""Uncertainty for every reported rate: a figure from n items is shown with its 95 % interval."""

from __future__ import annotations

import math

Z95 = 1.959964


def wilson(successes: int, n: int) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion (sound for small n and for rates near 0 or 1)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + Z95 ** 2 / (2 * n)) / (1 + Z95 ** 2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95 ** 2 / (4 * n ** 2)) / (1 + Z95 ** 2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(successes: int, n: int) -> str:
    """'0.83 [0.66, 0.93] (n=24)': a rate as reports show it."""
    if n == 0:
        return "- (n=0)"
    low, high = wilson(successes, n)
    return f"{successes / n:.2f} [{low:.2f}, {high:.2f}] (n={n})"


def bootstrap(values: list[float], resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of a mean over items (seeded, so a report re-renders identically)."""
    import numpy as np

    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return math.nan, math.nan
    means = np.random.default_rng(seed).choice(data, size=(resamples, data.size), replace=True).mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)

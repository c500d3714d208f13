"""Per-token cosine similarity of two embedding matrices: the one home of the measure that verify, the native
tests and the vision benchmark all judge image embeddings by."""
from __future__ import annotations

import numpy as np


def per_token_cosine(a, b) -> np.ndarray:
    """Cosine of each row of `a` with the same row of `b` (float64)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1) + 1e-30)


def cosine_stats(a, b) -> dict:
    cos = per_token_cosine(a, b)
    diff = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))
    return {"cos_mean": float(cos.mean()), "cos_min": float(cos.min()), "max_abs": float(diff.max()),
            "n_tokens": int(cos.shape[0])}

"""Random LDP / LDPv2 weights under the checkpoint's own names, at realistic scales.

Used by the parity tests and benchmarks/ldp.py (throughput does not depend on the values; parity
needs activations of a realistic size: Linear weights ~N(0, 0.02), LayerNorm gains ~1).
"""
from __future__ import annotations

import numpy as np

from edgevlm.checkpoint.config import se_channels
from edgevlm.native.ldp import ldp_tensor_shapes


def random_ldp_weights(version: str, n_embd: int, width: int, seed: int = 0) -> dict[str, np.ndarray]:
    """float32 arrays keyed by checkpoint name; LayerNorm weights ~1, conv kernels ~N(0, 0.1)."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for name, shape in ldp_tensor_shapes(version, n_embd, width, se_channels(width)).items():
        is_ln = ".block.0.1." in name or ".block.2.1." in name
        if is_ln and name.endswith(".weight"):
            arr = 1.0 + 0.1 * rng.standard_normal(shape)
        elif len(shape) == 4 and shape[2] == 3:  # depthwise 3x3
            arr = 0.1 * rng.standard_normal(shape)
        else:
            arr = 0.02 * rng.standard_normal(shape)
        out[name] = arr.astype(np.float32)
    return out

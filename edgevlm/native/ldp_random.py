"""Random LDP / LDPv2 weights under the checkpoint's own names, at realistic scales.

Used by the parity tests and benchmarks/ldp.py (throughput does not depend on the values; parity
needs activations of a realistic size: Linear weights ~N(0, 0.02), LayerNorm gains ~1).
"""
from __future__ import annotations

import numpy as np

from edgevlm.native.ldp import ldp_tensor_names


def se_dim(width: int) -> int:
    """torchvision's _make_divisible(width // 4, 8), as MobileVLM's SE uses it (512 for 2048, 640 for 2560)."""
    v = width // 4
    new_v = max(8, int(v + 4) // 8 * 8)
    return new_v + 8 if new_v < 0.9 * v else new_v


def _shape(name: str, c: int, w: int, s: int) -> tuple[int, ...]:
    if name.endswith(("mlp.0.weight", "mlp.1.weight")):
        return (w, c)
    if name.endswith(("mlp.2.weight", "mlp.3.weight")):
        return (w, w)
    if name.endswith(("peg.0.weight", "block.0.0.weight")):
        return (w, 1, 3, 3)
    if name.endswith("fc1.weight"):
        return (s, w, 1, 1)
    if name.endswith("fc1.bias"):
        return (s,)
    if name.endswith("fc2.weight"):
        return (w, s, 1, 1)
    if name.endswith("block.2.0.weight"):
        return (w, w, 1, 1)
    return (w,)


def random_ldp_weights(version: str, n_embd: int, width: int, seed: int = 0) -> dict[str, np.ndarray]:
    """float32 arrays keyed by checkpoint name; LayerNorm weights ~1, conv kernels ~N(0, 0.1)."""
    rng = np.random.default_rng(seed)
    s = se_dim(width)
    out: dict[str, np.ndarray] = {}
    for name in ldp_tensor_names(version):
        shape = _shape(name, n_embd, width, s)
        is_ln = ".block.0.1." in name or ".block.2.1." in name
        if is_ln and name.endswith(".weight"):
            arr = 1.0 + 0.1 * rng.standard_normal(shape)
        elif len(shape) == 4 and shape[2] == 3:  # depthwise 3x3
            arr = 0.1 * rng.standard_normal(shape)
        else:
            arr = 0.02 * rng.standard_normal(shape)
        out[name] = arr.astype(np.float32)
    return out

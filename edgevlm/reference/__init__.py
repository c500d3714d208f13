"""The PyTorch judge: MobileVLM's forward pass as MobileVLM itself computes it (plus a stock-llama.cpp switch).

Heavy imports (torch, transformers) happen inside the modules' functions; ``import edgevlm.reference`` is cheap.
Entry point: ``MobileVLMReference.load(checkpoint_dir)`` in ``edgevlm.reference.pipeline``.
"""
from __future__ import annotations

from edgevlm.reference.pipeline import MobileVLMReference

__all__ = ["MobileVLMReference"]


def __getattr__(name: str):
    if name == "MobileVLMReference":
        return MobileVLMReference
    raise AttributeError(name)

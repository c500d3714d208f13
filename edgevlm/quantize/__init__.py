"""LLM quantization through the pinned llama.cpp (`llama_model_quantize`), optional importance matrix."""
from __future__ import annotations

from edgevlm.quantize.run import quantize_gguf

__all__ = ["quantize_gguf"]

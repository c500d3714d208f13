"""Streaming GGUF writers for the LLM and the mmproj (temp name → rename, deterministic bytes).

Named `ggufio`, not `gguf`, so it never shadows the `gguf` library it builds on.
"""
from __future__ import annotations

from edgevlm.ggufio.llm import write_llm_gguf
from edgevlm.ggufio.mmproj import write_mmproj_gguf

__all__ = ["write_llm_gguf", "write_mmproj_gguf"]

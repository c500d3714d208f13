"""Target-first tensor tables (GGUF name → source name + transform + expected shape) and their coverage check.

`tables_for(config, source_names)` gives the LLM table and, for MobileVLM, the mmproj table.
"""
from __future__ import annotations

from edgevlm.checkpoint.config import MobileVLMConfig
from edgevlm.mapping.coverage import check_coverage
from edgevlm.mapping.llm import llm_table
from edgevlm.mapping.spec import Table, TensorSpec
from edgevlm.mapping.vision import vision_table

__all__ = ["Table", "TensorSpec", "check_coverage", "llm_table", "vision_table", "tables_for"]


def tables_for(cfg: MobileVLMConfig, source_names: set[str] | list[str]) -> tuple[Table, Table | None]:
    """(LLM table, mmproj table or None for a text-only MobileLLaMA checkpoint)."""
    llm = llm_table(cfg.llm, has_lm_head="lm_head.weight" in set(source_names))
    return llm, (vision_table(cfg) if cfg.is_multimodal else None)

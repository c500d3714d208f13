"""Checkpoint stage: typed config, presets, synthetic checkpoints, tokenizer training, lazy tensor reading."""
from __future__ import annotations

from edgevlm.checkpoint.config import LLMConfig, MobileVLMConfig, ProjectorType, VisionConfig

__all__ = ["LLMConfig", "MobileVLMConfig", "ProjectorType", "VisionConfig"]

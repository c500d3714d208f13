"""Where MobileVLM keeps its parts in a checkpoint's state dict: the one home of these key prefixes.

The CLIP tower sits under ``model.vision_tower.vision_tower.vision_model.`` (CLIPVisionTower wraps a
transformers CLIPVisionModel), the projector under ``model.mm_projector.``. A separate CLIP checkpoint keeps
the same tower under ``vision_model.`` (CLIPModel, and CLIPVisionModel in transformers 4.x) or at the top
level (CLIPVisionModel saved by transformers 5.x).
"""
from __future__ import annotations

TOWER_PREFIX = "model.vision_tower.vision_tower.vision_model."
PROJECTOR_PREFIX = "model.mm_projector."
# a CLIP checkpoint's own spellings of the vision tower (exact prefixes; the text tower is never read)
CLIP_TOWER_PREFIX = "vision_model."
CLIP_TOWER_TOP_LEVEL = ("embeddings.", "encoder.", "pre_layrnorm.", "post_layernorm.")

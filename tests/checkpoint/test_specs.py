"""Every preset's tensor names and shapes, from the config alone (no weights written for the big ones).

Checked two independent ways: against transformers' own modules built on the meta device (LLM and CLIP
state-dict keys and shapes), and against the projector key lists written out from REFERENCE.md.
"""
from __future__ import annotations

import pytest

from edgevlm.checkpoint.presets import preset_config, preset_names
from edgevlm.checkpoint.specs import PROJECTOR_PREFIX, VISION_PREFIX, tensor_specs

REAL = ["mobilevlm-1.7b", "mobilevlm-v2-1.7b", "mobilevlm-3b", "mobilevlm-v2-3b", "mobilevlm-v2-7b"]
# REFERENCE.md: (LLM hidden, layers, heads, FFN), projector type
REAL_SHAPES = {
    "mobilevlm-1.7b": ((2048, 24, 16, 5632), "ldpnet"), "mobilevlm-v2-1.7b": ((2048, 24, 16, 5632), "ldpnetv2"),
    "mobilevlm-3b": ((2560, 32, 32, 6912), "ldpnet"), "mobilevlm-v2-3b": ((2560, 32, 32, 6912), "ldpnetv2"),
    "mobilevlm-v2-7b": ((4096, 32, 32, 11008), "ldpnetv2"),
}


def _specs(name, llm_only=False):
    return {s.name: s.shape for s in tensor_specs(preset_config(name, llm_only))}


def _meta_state_dict(model_cls, config):
    import torch

    with torch.device("meta"):
        model = model_cls(config)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name", preset_names())
def test_llm_part_matches_transformers_llama(name):
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = preset_config(name)
    llm = cfg.llm
    hf = LlamaConfig(hidden_size=llm.hidden_size, num_hidden_layers=llm.num_hidden_layers,
                     num_attention_heads=llm.num_attention_heads, num_key_value_heads=llm.num_key_value_heads,
                     intermediate_size=llm.intermediate_size, vocab_size=llm.vocab_size, tie_word_embeddings=False)
    expected = _meta_state_dict(LlamaForCausalLM, hf)
    ours = {k: v for k, v in _specs(name).items() if not k.startswith((VISION_PREFIX, PROJECTOR_PREFIX))}
    assert ours == expected
    assert _specs(name, llm_only=True) == expected


@pytest.mark.parametrize("name", preset_names())
def test_vision_tower_matches_transformers_clip(name):
    from transformers import CLIPVisionConfig, CLIPVisionModel

    v = preset_config(name).vision
    hf = CLIPVisionConfig(hidden_size=v.hidden_size, num_hidden_layers=v.num_hidden_layers,
                          num_attention_heads=v.num_attention_heads, intermediate_size=v.intermediate_size,
                          image_size=v.image_size, patch_size=v.patch_size, projection_dim=v.projection_dim)
    # transformers 5 drops the `vision_model.` prefix in CLIPVisionModel's own state dict
    expected = {k.removeprefix("vision_model."): s for k, s in _meta_state_dict(CLIPVisionModel, hf).items()
                if not k.endswith("position_ids")}
    ours = {k[len(VISION_PREFIX):]: s for k, s in _specs(name).items() if k.startswith(VISION_PREFIX)}
    assert ours == expected
    assert "pre_layrnorm.weight" in ours and "post_layernorm.weight" in ours  # HF spelling, full tower


@pytest.mark.parametrize("name", REAL)
def test_real_shapes_per_reference(name):
    (hidden, layers, heads, ffn), projector = REAL_SHAPES[name]
    cfg = preset_config(name)
    specs = _specs(name)
    assert cfg.projector_type == projector and cfg.llm.num_attention_heads == heads
    assert specs["model.embed_tokens.weight"] == (32000, hidden) and specs["lm_head.weight"] == (32000, hidden)
    assert specs[f"model.layers.{layers - 1}.mlp.gate_proj.weight"] == (ffn, hidden)
    assert f"model.layers.{layers}.mlp.gate_proj.weight" not in specs
    v = VISION_PREFIX
    assert specs[v + "embeddings.patch_embedding.weight"] == (1024, 3, 14, 14)
    assert specs[v + "embeddings.position_embedding.weight"] == (577, 1024)
    assert specs[v + "encoder.layers.23.mlp.fc1.weight"] == (4096, 1024)
    assert v + "encoder.layers.24.mlp.fc1.weight" not in specs


def _v1_keys(w, c, s):
    p = PROJECTOR_PREFIX + "model."
    keys = {p + "mlp.1.weight": (w, c), p + "mlp.1.bias": (w,), p + "mlp.3.weight": (w, w), p + "mlp.3.bias": (w,)}
    for b in (1, 2):
        q = f"{p}mb_block.{b}.block."
        keys.update({q + "0.0.weight": (w, 1, 3, 3), q + "0.1.weight": (w,), q + "0.1.bias": (w,),
                     q + "1.fc1.weight": (s, w, 1, 1), q + "1.fc1.bias": (s,),
                     q + "1.fc2.weight": (w, s, 1, 1), q + "1.fc2.bias": (w,),
                     q + "2.0.weight": (w, w, 1, 1), q + "2.1.weight": (w,), q + "2.1.bias": (w,)})
    return keys


def _v2_keys(w, c):
    p = PROJECTOR_PREFIX
    return {p + "mlp.mlp.0.weight": (w, c), p + "mlp.mlp.0.bias": (w,), p + "mlp.mlp.2.weight": (w, w),
            p + "mlp.mlp.2.bias": (w,), p + "peg.peg.0.weight": (w, 1, 3, 3), p + "peg.peg.0.bias": (w,)}


@pytest.mark.parametrize("name, expected", [
    ("mobilevlm-1.7b", _v1_keys(2048, 1024, 512)), ("mobilevlm-3b", _v1_keys(2560, 1024, 640)),
    ("mobilevlm-v2-1.7b", _v2_keys(2048, 1024)), ("mobilevlm-v2-3b", _v2_keys(2560, 1024)),
    ("tiny-v1", _v1_keys(64, 64, 16)), ("tiny-v2", _v2_keys(64, 64)),
])
def test_projector_keys_per_reference(name, expected):
    ours = {k: s for k, s in _specs(name).items() if k.startswith(PROJECTOR_PREFIX)}
    assert ours == expected
    assert len(ours) == (24 if preset_config(name).projector_type == "ldpnet" else 6)


def test_real_parameter_counts():
    """MobileVLM V2 1.7B ≈ 1.67 B parameters (1.36 B LLM + 0.30 B CLIP ViT-L/14-336 + projector)."""
    import math

    n = sum(math.prod(s) for s in _specs("mobilevlm-v2-1.7b").values())
    vit = sum(math.prod(s) for k, s in _specs("mobilevlm-v2-1.7b").items() if k.startswith(VISION_PREFIX))
    assert vit == 303_507_456  # CLIP ViT-L/14 vision (303,179,776 at 224 px) + 320 more position rows
    assert 1.6e9 < n < 1.75e9

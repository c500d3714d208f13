"""Named model shapes for `edgevlm synth`: tiny ones for tests, the real MobileVLM shapes for benchmarks.

Each preset is the config.json a real checkpoint of that shape carries (the real key set, including the
stale keys of the 3B configs), so everything downstream reads synthetic and real checkpoints the same way.
The tiny presets keep the real vision geometry (336 px, patch 14 → 576 patches → 144 image tokens).
"""
from __future__ import annotations

from dataclasses import dataclass

from edgevlm.checkpoint.config import ARCH_LLAMA, ARCH_MOBILEVLM, MobileVLMConfig
from edgevlm.errors import UnknownPreset

REAL_TOWER = "openai/clip-vit-large-patch14-336"
TINY_TOWER = "edgevlm/tiny-clip-vit-336"


@dataclass(frozen=True)
class _Shape:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    projector: str
    eps: float = 1e-6
    tiny: bool = False
    stale_3b_keys: bool = False
    context: int = 2048
    default_format: str = "bin"  # how the public checkpoint of that shape ships its weights


_SHAPES: dict[str, _Shape] = {
    "tiny-v1": _Shape(64, 2, 4, 176, 1000, "ldpnet", tiny=True),
    "tiny-v2": _Shape(64, 2, 4, 176, 1000, "ldpnetv2", tiny=True),
    "mobilevlm-1.7b": _Shape(2048, 24, 16, 5632, 32000, "ldpnet"),
    "mobilevlm-v2-1.7b": _Shape(2048, 24, 16, 5632, 32000, "ldpnetv2"),
    "mobilevlm-3b": _Shape(2560, 32, 32, 6912, 32000, "ldpnet", stale_3b_keys=True),
    "mobilevlm-v2-3b": _Shape(2560, 32, 32, 6912, 32000, "ldpnetv2", stale_3b_keys=True),
    # Vicuna-7B based: rms_norm_eps 1e-5, 4096 context, shipped sharded with an index
    "mobilevlm-v2-7b": _Shape(4096, 32, 32, 11008, 32000, "ldpnetv2", eps=1e-5, context=4096,
                              default_format="sharded"),
}

# The tiny CLIP tower: small widths, real geometry (transformers CLIPVisionConfig keys).
_TINY_VISION = {
    "hidden_size": 64, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 256,
    "image_size": 336, "patch_size": 14, "layer_norm_eps": 1e-5, "hidden_act": "quick_gelu",
    "projection_dim": 64, "model_type": "clip_vision_model",
}


def preset_names() -> tuple[str, ...]:
    return tuple(_SHAPES)


def is_tiny(name: str) -> bool:
    return _shape(name).tiny


def default_format(name: str) -> str:
    return _shape(name).default_format


def preset_dict(name: str, llm_only: bool = False) -> dict:
    """The config.json of preset `name` (a MobileLLaMA-style LlamaForCausalLM one when `llm_only`)."""
    shape = _shape(name)
    d = _llm_dict(shape)
    if llm_only:
        d.update(architectures=[ARCH_LLAMA], model_type="llama")
    else:
        d.update(_mm_dict(shape))
        d["_name_or_path"] = f"edgevlm/synth-{name}"
    if shape.stale_3b_keys and not llm_only:
        d.update(_stale_3b_keys(shape))
    return dict(sorted(d.items()))


def preset_config(name: str, llm_only: bool = False) -> MobileVLMConfig:
    return MobileVLMConfig.from_hf_dict(preset_dict(name, llm_only))


def _shape(name: str) -> _Shape:
    try:
        return _SHAPES[name]
    except KeyError:
        raise UnknownPreset(f"unknown preset {name!r}; choose one of: {', '.join(_SHAPES)}") from None


def _llm_dict(s: _Shape) -> dict:
    return {
        "architectures": [ARCH_MOBILEVLM], "model_type": "mobilevlm",
        "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0,
        "hidden_act": "silu", "hidden_size": s.hidden, "intermediate_size": s.ffn, "initializer_range": 0.02,
        "max_position_embeddings": s.context, "max_sequence_length": s.context,
        "num_attention_heads": s.heads, "num_hidden_layers": s.layers, "num_key_value_heads": s.heads,
        "pretraining_tp": 1, "rms_norm_eps": s.eps, "rope_scaling": None, "rope_theta": 10000.0,
        "tie_word_embeddings": False, "torch_dtype": "float32" if s.tiny else "bfloat16",
        "transformers_version": "4.33.1", "use_cache": True, "vocab_size": s.vocab,
    }


def _mm_dict(s: _Shape) -> dict:
    d = {
        "freeze_mm_mlp_adapter": False, "image_aspect_ratio": "pad", "image_grid_pinpoints": None,
        "mm_hidden_size": _TINY_VISION["hidden_size"] if s.tiny else 1024,
        "mm_projector_type": s.projector, "mm_use_im_patch_token": False, "mm_use_im_start_end": False,
        "mm_vision_select_feature": "patch", "mm_vision_select_layer": -2,
        "mm_vision_tower": TINY_TOWER if s.tiny else REAL_TOWER,
        "tune_mm_mlp_adapter": False, "use_mm_proj": True, "vision_tower_type": "clip",
    }
    if s.projector == "ldpnetv2":  # the V2 configs carry this key, the V1 ones do not
        d["mm_projector_lr"] = None
    if s.tiny:
        d["vision_config"] = dict(_TINY_VISION)
    return d


def _stale_3b_keys(s: _Shape) -> dict:
    """Keys of another training framework that the real 3B configs carry; readers must ignore them."""
    return {
        "_mlp_class": "LLaMAMLP", "_norm_class": "RMSNorm", "bias": False, "block_size": 2048,
        "gelu_approximate": "none", "lm_head_bias": False, "n_embd": s.hidden, "n_head": 16,
        "n_layer": s.layers, "n_query_groups": 16, "name": "huggy_llama_3b", "norm_eps": s.eps,
        "padded_vocab_size": s.vocab, "padding_multiple": 64, "parallel_residual": False, "rope_base": 10000,
        "rope_condense_ratio": 1, "rotary_percentage": 1.0, "shared_attention_norm": False,
    }

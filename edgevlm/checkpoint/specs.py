"""Every tensor of a MobileVLM checkpoint in the Hugging Face layout: name, shape, and how synth initialises it.

Computed from the config alone (no weights), so tests can check the real 1.7B/3B layouts without writing
gigabytes, and synth writes exactly this list. Names follow REFERENCE.md and MobileVLM's modules:
LLM (``model.*``, ``lm_head``), the full CLIP tower under ``model.vision_tower.vision_tower.vision_model``,
and the projector under ``model.mm_projector`` (v1: ``model.mlp.{1,3}`` + two torchvision InvertedResidual
blocks ``model.mb_block.{1,2}.block.*``; v2: ``mlp.mlp.{0,2}`` + ``peg.peg.0``).

Initialisation keeps activations well-conditioned: matrices std 1/sqrt(fan_in) (output projections further
scaled by 1/sqrt(2·layers) so the residual stream stays ≈ unit size), norm weights 1 + 0.1·N(0,1), biases
0.1·N(0,1), embeddings N(0,1); lm_head std 2.5/sqrt(hidden) gives logits of std ≈ 2.5 (peaked, not degenerate).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from edgevlm.checkpoint.config import LLMConfig, MobileVLMConfig, VisionConfig, se_channels
from edgevlm.checkpoint.keys import PROJECTOR_PREFIX, TOWER_PREFIX as VISION_PREFIX


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    init: str  # "normal" (mean 0) | "norm" (mean 1)
    std: float


def _w(name: str, shape: tuple[int, ...], fan_in: int, scale: float = 1.0) -> TensorSpec:
    return TensorSpec(name, shape, "normal", scale / math.sqrt(fan_in))


def _b(name: str, n: int) -> TensorSpec:
    return TensorSpec(name, (n,), "normal", 0.1)


def _norm(prefix: str, n: int, bias: bool) -> list[TensorSpec]:
    out = [TensorSpec(prefix + "weight", (n,), "norm", 0.1)]
    return out + [_b(prefix + "bias", n)] if bias else out


def _linear(prefix: str, n_out: int, n_in: int, bias: bool, scale: float = 1.0) -> list[TensorSpec]:
    out = [_w(prefix + "weight", (n_out, n_in), n_in, scale)]
    return out + [_b(prefix + "bias", n_out)] if bias else out


def llm_specs(llm: LLMConfig) -> tuple[list[TensorSpec], list[TensorSpec]]:
    """(everything under ``model.`` of the LLM, [lm_head]) — MobileVLM stores the lm_head last."""
    h, f, kv = llm.hidden_size, llm.intermediate_size, llm.num_key_value_heads * llm.head_dim
    res = 1.0 / math.sqrt(2 * llm.num_hidden_layers)
    specs = [TensorSpec("model.embed_tokens.weight", (llm.vocab_size, h), "normal", 1.0)]
    for i in range(llm.num_hidden_layers):
        p = f"model.layers.{i}."
        specs += _linear(p + "self_attn.q_proj.", h, h, False)
        specs += _linear(p + "self_attn.k_proj.", kv, h, False)
        specs += _linear(p + "self_attn.v_proj.", kv, h, False)
        specs += _linear(p + "self_attn.o_proj.", h, h, False, res)
        specs += _linear(p + "mlp.gate_proj.", f, h, False)
        specs += _linear(p + "mlp.up_proj.", f, h, False)
        specs += _linear(p + "mlp.down_proj.", h, f, False, res)
        specs += _norm(p + "input_layernorm.", h, False)
        specs += _norm(p + "post_attention_layernorm.", h, False)
    specs += _norm("model.norm.", h, False)
    head = [] if llm.tie_word_embeddings else _linear("lm_head.", llm.vocab_size, h, False, 2.5)
    return specs, head


def vision_specs(v: VisionConfig) -> list[TensorSpec]:
    """The full CLIP vision tower (all layers and post_layernorm, HF's `pre_layrnorm` spelling)."""
    d, f, p = v.hidden_size, v.intermediate_size, VISION_PREFIX
    res = 1.0 / math.sqrt(2 * v.num_hidden_layers)
    specs = [
        TensorSpec(p + "embeddings.class_embedding", (d,), "normal", 1.0),
        _w(p + "embeddings.patch_embedding.weight", (d, 3, v.patch_size, v.patch_size), 3 * v.patch_size ** 2),
        TensorSpec(p + "embeddings.position_embedding.weight", (v.num_patches + 1, d), "normal", 1.0),
        *_norm(p + "pre_layrnorm.", d, True),
    ]
    for i in range(v.num_hidden_layers):
        q = f"{p}encoder.layers.{i}."
        for proj in ("k_proj", "v_proj", "q_proj"):
            specs += _linear(f"{q}self_attn.{proj}.", d, d, True)
        specs += _linear(q + "self_attn.out_proj.", d, d, True, res)
        specs += _norm(q + "layer_norm1.", d, True)
        specs += _linear(q + "mlp.fc1.", f, d, True)
        specs += _linear(q + "mlp.fc2.", d, f, True, res)
        specs += _norm(q + "layer_norm2.", d, True)
    return specs + _norm(p + "post_layernorm.", d, True)


def ldp_v1_specs(c: int, w: int) -> list[TensorSpec]:
    """LDPNetProjector: mlp (0 = Identity, 1 Linear, 2 GELU, 3 Linear) + InvertedResidual blocks 1 and 2."""
    p, s = PROJECTOR_PREFIX + "model.", se_channels(w)
    specs = _linear(p + "mlp.1.", w, c, True) + _linear(p + "mlp.3.", w, w, True)
    for blk in (1, 2):
        q = f"{p}mb_block.{blk}.block."
        specs.append(_w(q + "0.0.weight", (w, 1, 3, 3), 9))           # depthwise 3×3, no bias (norm follows)
        specs += _norm(q + "0.1.", w, True)                            # LayerNorm over channels
        specs += [_w(q + "1.fc1.weight", (s, w, 1, 1), w), _b(q + "1.fc1.bias", s),
                  _w(q + "1.fc2.weight", (w, s, 1, 1), s), _b(q + "1.fc2.bias", w)]
        specs.append(_w(q + "2.0.weight", (w, w, 1, 1), w))           # pointwise 1×1, no bias
        specs += _norm(q + "2.1.", w, True)
    return specs


def ldp_v2_specs(c: int, w: int) -> list[TensorSpec]:
    """LDPNetV2Projector: FeatureIRLayer mlp (0 Linear, 1 GELU, 2 Linear), pool, PosInjectLayer peg."""
    p = PROJECTOR_PREFIX
    return (_linear(p + "mlp.mlp.0.", w, c, True) + _linear(p + "mlp.mlp.2.", w, w, True)
            + [_w(p + "peg.peg.0.weight", (w, 1, 3, 3), 9), _b(p + "peg.peg.0.bias", w)])


def projector_specs(cfg: MobileVLMConfig) -> list[TensorSpec]:
    builders = {"ldpnet": ldp_v1_specs, "ldpnetv2": ldp_v2_specs}
    return builders[cfg.projector_type](cfg.vision.hidden_size, cfg.llm.hidden_size)


def tensor_specs(cfg: MobileVLMConfig) -> list[TensorSpec]:
    """All tensors in MobileVLM's state-dict order: LLM body, vision tower, projector, lm_head."""
    body, head = llm_specs(cfg.llm)
    if not cfg.is_multimodal:
        return body + head
    return body + vision_specs(cfg.vision) + projector_specs(cfg) + head

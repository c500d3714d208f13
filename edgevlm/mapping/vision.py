"""The mmproj table: MobileVLM's CLIP tower and LDP / LDPv2 projector → the names stock llama.cpp's
`clip.cpp` loads (`v.*`, `mm.model.*`; tools/mtmd/clip-impl.h at the pinned commit).

Layer count — a deliberate choice. MobileVLM's image feature is ``hidden_states[-2]``: the output of the
first 23 of CLIP's 24 encoder layers, without the post-layernorm. llama.cpp's llava graph runs
``block_count - 1`` layers for llava-style projectors, and its documented recipe stores only 23 layers, so
stock ran 22 (upstream issue #25817). edgevlm stores ALL ``num_hidden_layers`` layers (24 for the real
tower): stock then runs 23, exactly what MobileVLM uses, and edgevlm's own runtime runs the
``n_layers_used`` layers named by the key ``edgevlm.vision.select_layer`` (-2) in the same file. The last
stored layer is never executed by either; it costs 12.6 M parameters (f16: 25 MB) on disk.

No ``v.post_ln``: the stock graph would apply it, MobileVLM does not (``post_layernorm`` is ignored).
CLIP MLP: ``fc1`` → ``ffn_up``, ``fc2`` → ``ffn_down`` (the legacy converter swapped the names and clip.cpp
swaps them back when ``ffn_down`` has ``n_embd`` columns; with the correct names and FF ≠ D it leaves
them alone).

Projector convs are squeezed the way clip.cpp's graph consumes them: the depthwise 3×3 kernels become
(C, 3, 3) — ggml ne = [3, 3, C], which ``ggml_conv_2d_dw`` reshapes to [3, 3, 1, C] — and the 1×1 convs of
LDP v1 (squeeze-excitation fc1/fc2, pointwise block.2.0) become plain matrices used by ``ggml_mul_mat``.
"""
from __future__ import annotations

import re

from edgevlm.checkpoint.config import MobileVLMConfig, se_channels
from edgevlm.checkpoint.keys import PROJECTOR_PREFIX as PROJ
from edgevlm.checkpoint.keys import TOWER_PREFIX as TOWER
from edgevlm.errors import UnsupportedModel
from edgevlm.mapping.spec import Table, TensorSpec, squeeze_conv

_WRAPPER = re.escape(TOWER.removesuffix("vision_model."))
# source tensors the mmproj knowingly leaves out (regex, full match)
VISION_IGNORED = (
    re.escape(TOWER) + r"post_layernorm\.(weight|bias)",
    re.escape(TOWER) + r"embeddings\.position_ids",
    _WRAPPER + r"(text_model\..*|logit_scale|text_projection\.weight|visual_projection\.weight)",
)


def vision_table(cfg: MobileVLMConfig) -> Table:
    if cfg.vision is None:
        raise UnsupportedModel("the checkpoint has no vision tower: there is no mmproj to write")
    builders = {"ldpnet": _ldp_v1, "ldpnetv2": _ldp_v2}
    if cfg.projector_type not in builders:
        raise UnsupportedModel(f"mm_projector_type {cfg.projector_type!r} is not supported")
    specs = _tower(cfg) + builders[cfg.projector_type](cfg)
    return Table(tuple(specs), VISION_IGNORED)


def _tower(cfg: MobileVLMConfig) -> list[TensorSpec]:
    v = cfg.vision
    d, ff, p = v.hidden_size, v.intermediate_size, v.patch_size
    e = TOWER + "embeddings."
    specs = [
        TensorSpec("v.class_embd", e + "class_embedding", (d,), "vector"),
        TensorSpec("v.patch_embd.weight", e + "patch_embedding.weight", (d, 3, p, p), "conv"),
        TensorSpec("v.position_embd.weight", e + "position_embedding.weight", (v.num_patches + 1, d),
                   "embedding"),
        TensorSpec("v.pre_ln.weight", TOWER + "pre_layrnorm.weight", (d,), "vector"),
        TensorSpec("v.pre_ln.bias", TOWER + "pre_layrnorm.bias", (d,), "vector"),
    ]
    pairs = (("attn_q", "self_attn.q_proj", (d, d)), ("attn_k", "self_attn.k_proj", (d, d)),
             ("attn_v", "self_attn.v_proj", (d, d)), ("attn_out", "self_attn.out_proj", (d, d)),
             ("ffn_up", "mlp.fc1", (ff, d)), ("ffn_down", "mlp.fc2", (d, ff)))
    for i in range(v.num_hidden_layers):
        src, dst = f"{TOWER}encoder.layers.{i}.", f"v.blk.{i}."
        for name, hf, shape in pairs:
            specs.append(TensorSpec(f"{dst}{name}.weight", f"{src}{hf}.weight", shape, "matrix"))
            specs.append(TensorSpec(f"{dst}{name}.bias", f"{src}{hf}.bias", (shape[0],), "vector"))
        for name, hf in (("ln1", "layer_norm1"), ("ln2", "layer_norm2")):
            specs.append(TensorSpec(f"{dst}{name}.weight", f"{src}{hf}.weight", (d,), "vector"))
            specs.append(TensorSpec(f"{dst}{name}.bias", f"{src}{hf}.bias", (d,), "vector"))
    return specs


def _linear(target: str, source: str, n_out: int, n_in: int) -> list[TensorSpec]:
    return [TensorSpec(target + ".weight", source + ".weight", (n_out, n_in), "matrix"),
            TensorSpec(target + ".bias", source + ".bias", (n_out,), "vector")]


def _ldp_v2(cfg: MobileVLMConfig) -> list[TensorSpec]:
    w, d = cfg.llm.hidden_size, cfg.vision.hidden_size
    return (_linear("mm.model.mlp.0", PROJ + "mlp.mlp.0", w, d)
            + _linear("mm.model.mlp.2", PROJ + "mlp.mlp.2", w, w)
            + [TensorSpec("mm.model.peg.0.weight", PROJ + "peg.peg.0.weight", (w, 1, 3, 3), "conv",
                          squeeze_conv()),
               TensorSpec("mm.model.peg.0.bias", PROJ + "peg.peg.0.bias", (w,), "vector")])


def _ldp_v1(cfg: MobileVLMConfig) -> list[TensorSpec]:
    w, d, s = cfg.llm.hidden_size, cfg.vision.hidden_size, se_channels(cfg.llm.hidden_size)
    specs = (_linear("mm.model.mlp.1", PROJ + "model.mlp.1", w, d)
             + _linear("mm.model.mlp.3", PROJ + "model.mlp.3", w, w))
    for b in (1, 2):
        src, dst = f"{PROJ}model.mb_block.{b}.block.", f"mm.model.mb_block.{b}.block."
        specs += [
            TensorSpec(dst + "0.0.weight", src + "0.0.weight", (w, 1, 3, 3), "conv", squeeze_conv()),
            TensorSpec(dst + "0.1.weight", src + "0.1.weight", (w,), "vector"),
            TensorSpec(dst + "0.1.bias", src + "0.1.bias", (w,), "vector"),
            TensorSpec(dst + "1.fc1.weight", src + "1.fc1.weight", (s, w, 1, 1), "matrix", squeeze_conv()),
            TensorSpec(dst + "1.fc1.bias", src + "1.fc1.bias", (s,), "vector"),
            TensorSpec(dst + "1.fc2.weight", src + "1.fc2.weight", (w, s, 1, 1), "matrix", squeeze_conv()),
            TensorSpec(dst + "1.fc2.bias", src + "1.fc2.bias", (w,), "vector"),
            TensorSpec(dst + "2.0.weight", src + "2.0.weight", (w, w, 1, 1), "matrix", squeeze_conv()),
            TensorSpec(dst + "2.1.weight", src + "2.1.weight", (w,), "vector"),
            TensorSpec(dst + "2.1.bias", src + "2.1.bias", (w,), "vector"),
        ]
    return specs

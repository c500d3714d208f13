"""The mmproj GGUF (`general.architecture = clip`): CLIP tower + LDP/LDPv2 projector, with the keys
stock llama.cpp's clip.cpp requires (`clip.vision.*`, `clip.projector_type` = ldp | ldpv2) and edgevlm's
own `edgevlm.vision.select_layer` (see edgevlm.mapping.vision for why every layer is stored).

Precision: matrices f16 (or q8_0 where a row is a whole number of 32-blocks, f16 otherwise), embeddings
f16, vectors f32; `f32` stores everything in f32 for parity tests — except the conv kernels (patch
embedding, depthwise 3×3), which stay f16 in every mode: ggml's conv is im2col (f16 columns) + matmul and its
CPU backend has no f32-kernel × f16-column matmul (the scheduler aborts). The activations are rounded to f16
by im2col either way, so a f32 kernel would buy no accuracy in stock llama.cpp.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from gguf import GGUFWriter, LlamaFileType

from edgevlm.ggufio.stream import PlannedTensor, write_gguf
from edgevlm.ggufio.tensors import F16, F32, Q8_0, block_fits, load_converted
from edgevlm.mapping.spec import Table, TensorSpec

if TYPE_CHECKING:
    from edgevlm.checkpoint.reader import Checkpoint

STOCK_PROJECTOR_NAMES = {"ldpnet": "ldp", "ldpnetv2": "ldpv2"}
_FILE_TYPES = {"f32": LlamaFileType.ALL_F32, "f16": LlamaFileType.MOSTLY_F16, "q8_0": LlamaFileType.MOSTLY_Q8_0}


def storage_type(spec: TensorSpec, quant: str):
    if spec.kind == "conv":
        return F16
    if quant == "f32" or spec.kind == "vector":
        return F32
    if quant == "q8_0" and spec.kind == "matrix" and block_fits(Q8_0, spec.out_shape):
        return Q8_0
    return F16


def write_mmproj_gguf(ckpt: Checkpoint, table: Table, path: Path, quant: str, name: str,
                      on_tensor: Callable[[PlannedTensor], None] = lambda t: None) -> None:
    tensors = []
    for spec in table.specs:
        qtype = storage_type(spec, quant)
        tensors.append(PlannedTensor(spec.target, spec.out_shape, qtype, _producer(ckpt, spec, qtype)))
    write_gguf(path, "clip", lambda w: _add_kv(w, ckpt, name, quant), tensors, on_tensor)


def _producer(ckpt, spec, qtype):
    return lambda: load_converted(ckpt, spec, qtype)


def _add_kv(w: GGUFWriter, ckpt: Checkpoint, name: str, quant: str) -> None:
    cfg, v = ckpt.config, ckpt.config.vision
    w.add_name(f"mmproj-{name}")
    w.add_description("MobileVLM image encoder (CLIP ViT + LDP projector), converted by edgevlm")
    w.add_file_type(int(_FILE_TYPES[quant]))
    w.add_bool("clip.has_text_encoder", False)
    w.add_bool("clip.has_vision_encoder", True)
    w.add_bool("clip.has_llava_projector", True)
    w.add_string("clip.projector_type", STOCK_PROJECTOR_NAMES[cfg.projector_type])
    w.add_uint32("clip.vision.image_size", v.image_size)
    w.add_uint32("clip.vision.patch_size", v.patch_size)
    w.add_uint32("clip.vision.embedding_length", v.hidden_size)
    w.add_uint32("clip.vision.feed_forward_length", v.intermediate_size)
    w.add_uint32("clip.vision.projection_dim", v.projection_dim)
    w.add_uint32("clip.vision.attention.head_count", v.num_attention_heads)
    w.add_float32("clip.vision.attention.layer_norm_epsilon", v.layer_norm_eps)
    w.add_uint32("clip.vision.block_count", v.num_hidden_layers)
    w.add_array("clip.vision.image_mean", [float(x) for x in cfg.image_mean])
    w.add_array("clip.vision.image_std", [float(x) for x in cfg.image_std])
    w.add_bool("clip.use_gelu", False)  # CLIP's quick_gelu
    # edgevlm's runtime runs exactly hidden_states[select_layer]; stock runs block_count - 1 (= 23 of 24)
    w.add_int32("edgevlm.vision.select_layer", v.select_layer)
    w.add_uint32("edgevlm.vision.n_layers_used", v.n_layers_used)
    w.add_string("edgevlm.projector_type", cfg.projector_type)

"""The LLM GGUF (`general.architecture = llama`): hyperparameters, tokenizer, tensors streamed one at a time.

Written as F32 or F16 (`storage`); lower precisions come from llama.cpp's own quantizer (edgevlm.quantize).
Norm vectors are always f32, as llama.cpp's converters store them.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from gguf import GGUFWriter, LlamaFileType

from edgevlm.ggufio.stream import PlannedTensor, write_gguf
from edgevlm.ggufio.tensors import F16, F32, load_converted
from edgevlm.ggufio.tokenizer import add_tokenizer
from edgevlm.mapping.spec import Table

if TYPE_CHECKING:
    from edgevlm.checkpoint.reader import Checkpoint

STORAGE_TYPES = {"f32": F32, "f16": F16}


def write_llm_gguf(ckpt: Checkpoint, table: Table, path: Path, storage: str, name: str,
                   on_tensor: Callable[[PlannedTensor], None] = lambda t: None) -> None:
    matrix_type = STORAGE_TYPES[storage]
    tensors = [
        PlannedTensor(spec.target, spec.out_shape, matrix_type if spec.kind == "matrix" else F32,
                      _producer(ckpt, spec, matrix_type if spec.kind == "matrix" else F32))
        for spec in table.specs
    ]
    file_type = LlamaFileType.ALL_F32 if storage == "f32" else LlamaFileType.MOSTLY_F16
    write_gguf(path, "llama", lambda w: _add_kv(w, ckpt, name, file_type), tensors, on_tensor)


def _producer(ckpt, spec, qtype):
    return lambda: load_converted(ckpt, spec, qtype)


def _add_kv(w: GGUFWriter, ckpt: Checkpoint, name: str, file_type: LlamaFileType) -> None:
    llm = ckpt.config.llm
    w.add_name(name)
    w.add_vocab_size(llm.vocab_size)
    w.add_context_length(llm.max_position_embeddings)
    w.add_embedding_length(llm.hidden_size)
    w.add_block_count(llm.num_hidden_layers)
    w.add_feed_forward_length(llm.intermediate_size)
    w.add_rope_dimension_count(llm.head_dim)
    w.add_head_count(llm.num_attention_heads)
    w.add_head_count_kv(llm.num_key_value_heads)
    w.add_layer_norm_rms_eps(llm.rms_norm_eps)
    w.add_rope_freq_base(llm.rope_theta)
    w.add_file_type(int(file_type))
    add_tokenizer(w, ckpt.path, llm)

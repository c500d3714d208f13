"""The LLM table: MobileLLaMA (Hugging Face LlamaForCausalLM keys) → GGUF `llama` architecture tensor names.

Q and K rows are permuted from Hugging Face's rotate-half layout to ggml's adjacent-pair rope layout.
`rotary_emb.inv_freq` buffers (saved by older transformers) are recomputed by llama.cpp and ignored.
With tied embeddings and no `lm_head`, llama.cpp falls back to `token_embd` and `output.weight` is omitted.
"""
from __future__ import annotations

from edgevlm.checkpoint.config import LLMConfig
from edgevlm.mapping.spec import Table, TensorSpec, rope_permute

LLM_IGNORED = (r"model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq",)


def llm_table(llm: LLMConfig, has_lm_head: bool = True) -> Table:
    h, ff, v = llm.hidden_size, llm.intermediate_size, llm.vocab_size
    kv = llm.num_key_value_heads * llm.head_dim
    specs = [TensorSpec("token_embd.weight", "model.embed_tokens.weight", (v, h), "matrix")]
    for i in range(llm.num_hidden_layers):
        src, dst = f"model.layers.{i}.", f"blk.{i}."
        specs += [
            TensorSpec(dst + "attn_norm.weight", src + "input_layernorm.weight", (h,), "vector"),
            TensorSpec(dst + "attn_q.weight", src + "self_attn.q_proj.weight", (h, h), "matrix",
                       rope_permute(llm.num_attention_heads)),
            TensorSpec(dst + "attn_k.weight", src + "self_attn.k_proj.weight", (kv, h), "matrix",
                       rope_permute(llm.num_key_value_heads)),
            TensorSpec(dst + "attn_v.weight", src + "self_attn.v_proj.weight", (kv, h), "matrix"),
            TensorSpec(dst + "attn_output.weight", src + "self_attn.o_proj.weight", (h, h), "matrix"),
            TensorSpec(dst + "ffn_norm.weight", src + "post_attention_layernorm.weight", (h,), "vector"),
            TensorSpec(dst + "ffn_gate.weight", src + "mlp.gate_proj.weight", (ff, h), "matrix"),
            TensorSpec(dst + "ffn_up.weight", src + "mlp.up_proj.weight", (ff, h), "matrix"),
            TensorSpec(dst + "ffn_down.weight", src + "mlp.down_proj.weight", (h, ff), "matrix"),
        ]
    specs.append(TensorSpec("output_norm.weight", "model.norm.weight", (h,), "vector"))
    if has_lm_head or not llm.tie_word_embeddings:
        specs.append(TensorSpec("output.weight", "lm_head.weight", (v, h), "matrix"))
    return Table(tuple(specs), LLM_IGNORED)

"""The language model through transformers' LlamaForCausalLM (MobileLlamaForCausalLM is a LLaMA)."""
from __future__ import annotations

LLM_PREFIXES = ("model.embed_tokens.", "model.layers.", "model.norm.", "lm_head.")


def build_llama(llm_cfg, tensors: dict, dtype=None):
    """LlamaForCausalLM from an LLMConfig, loaded strictly from the checkpoint's LLM tensors."""
    from transformers import LlamaConfig, LlamaForCausalLM

    c = llm_cfg
    hf = LlamaConfig(hidden_size=c.hidden_size, num_hidden_layers=c.num_hidden_layers,
                     num_attention_heads=c.num_attention_heads, num_key_value_heads=c.num_key_value_heads,
                     intermediate_size=c.intermediate_size, vocab_size=c.vocab_size, rms_norm_eps=c.rms_norm_eps,
                     rope_theta=c.rope_theta, max_position_embeddings=c.max_position_embeddings,
                     bos_token_id=c.bos_token_id, eos_token_id=c.eos_token_id, pad_token_id=c.pad_token_id,
                     tie_word_embeddings=c.tie_word_embeddings, hidden_act="silu", attention_bias=False)
    hf._attn_implementation = "eager"
    model = LlamaForCausalLM(hf)
    state = {k: t for k, t in tensors.items() if k.startswith(LLM_PREFIXES) and "rotary_emb.inv_freq" not in k}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not (c.tie_word_embeddings and k == "lm_head.weight")]
    if missing or unexpected:
        raise KeyError(f"LLM tensors do not match LlamaForCausalLM: missing {missing[:5]}, unexpected "
                       f"{unexpected[:5]}")
    if c.tie_word_embeddings:
        model.tie_weights()
    if dtype is not None:
        model = model.to(dtype)
    return model.eval()


def logits_for_embeds(model, embeds):
    """(T, H) input embeddings → (T, V) logits, full causal forward, no cache."""
    import torch

    with torch.no_grad():
        return model(inputs_embeds=embeds.unsqueeze(0), use_cache=False).logits[0]


def embed(model, token_ids):
    import torch

    ids = torch.as_tensor(token_ids, dtype=torch.long)
    with torch.no_grad():
        return model.get_input_embeddings()(ids)


def greedy(model, embeds, max_new_tokens: int, eos_id: int) -> list[int]:
    """Greedy decoding from prompt embeddings with a KV cache; stops at `eos_id` (not included)."""
    import torch

    out: list[int] = []
    with torch.no_grad():
        res = model(inputs_embeds=embeds.unsqueeze(0), use_cache=True)
        for _ in range(max_new_tokens):
            nxt = int(res.logits[0, -1].argmax())
            if nxt == eos_id:
                break
            out.append(nxt)
            res = model(input_ids=torch.tensor([[nxt]]), past_key_values=res.past_key_values, use_cache=True)
    return out

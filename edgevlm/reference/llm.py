"""The language model through transformers' LlamaForCausalLM (MobileLlamaForCausalLM is a LLaMA)."""
from __future__ import annotations

LLM_PREFIXES = ("model.embed_tokens.", "model.layers.", "model.norm.", "lm_head.")


def _hf_config(c):
    from transformers import LlamaConfig  # lazy: heavy, optional

    hf = LlamaConfig(hidden_size=c.hidden_size, num_hidden_layers=c.num_hidden_layers,
                     num_attention_heads=c.num_attention_heads, num_key_value_heads=c.num_key_value_heads,
                     intermediate_size=c.intermediate_size, vocab_size=c.vocab_size, rms_norm_eps=c.rms_norm_eps,
                     rope_theta=c.rope_theta, max_position_embeddings=c.max_position_embeddings,
                     bos_token_id=c.bos_token_id, eos_token_id=c.eos_token_id, pad_token_id=c.pad_token_id,
                     tie_word_embeddings=c.tie_word_embeddings, hidden_act="silu", attention_bias=False)
    hf._attn_implementation = "eager"  # the plain softmax(QKᵀ/√d)V: the judge should be the textbook math
    return hf


def build_llama(llm_cfg, tensors: dict, dtype=None):
    """LlamaForCausalLM from an LLMConfig, loaded strictly from the checkpoint's LLM tensors."""
    from transformers import LlamaForCausalLM  # lazy: heavy, optional

    c = llm_cfg
    model = LlamaForCausalLM(_hf_config(c))
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
    import torch  # lazy: torch, heavy, optional

    with torch.no_grad():
        return model(inputs_embeds=embeds.unsqueeze(0), use_cache=False).logits[0]


def embed(model, token_ids):
    import torch  # lazy: torch, heavy, optional

    ids = torch.as_tensor(token_ids, dtype=torch.long)
    with torch.no_grad():
        return model.get_input_embeddings()(ids)


def greedy(model, embeds, max_new_tokens: int, eos_id: int) -> list[int]:
    """Greedy decoding from prompt embeddings with a KV cache; stops at `eos_id` (not included)."""
    import torch  # lazy: torch, heavy, optional

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


def build_streamed_llama(llm_cfg, ckpt, dtype=None):
    """LlamaForCausalLM whose decoder layers live on the meta device and are loaded from the checkpoint just
    before they run and dropped right after (forward hooks): the same modules and math as `build_llama`, in
    f32, with one layer resident instead of all of them (1.7B: ≈0.2 GB instead of 5.6 GB in f32)."""
    import torch  # lazy: torch, heavy, optional
    from transformers import LlamaForCausalLM  # lazy: heavy, optional
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding  # lazy: heavy, optional

    dt = dtype or torch.float32
    hf = _hf_config(llm_cfg)
    with torch.device("meta"):
        model = LlamaForCausalLM(hf)
    model.model.rotary_emb = LlamaRotaryEmbedding(config=hf)  # its inv_freq buffer must be real, not meta
    resident = [n for n in ckpt.names() if n.startswith(LLM_PREFIXES) and not n.startswith("model.layers.")]
    model.load_state_dict({n: _fetch(ckpt, n, dt) for n in resident}, strict=False, assign=True)
    if llm_cfg.tie_word_embeddings:
        model.tie_weights()
    for i, layer in enumerate(model.model.layers):
        _stream_layer(layer, ckpt, f"model.layers.{i}.", dt)
    missing = [n for n, p in model.named_parameters() if p.is_meta and not n.startswith("model.layers.")]
    if missing:
        raise KeyError(f"LLM tensors do not match LlamaForCausalLM: missing {missing[:5]}")
    return model.eval()


def _fetch(ckpt, name: str, dtype):
    """One checkpoint tensor as an own copy in `dtype`; the reader's pages are handed back."""
    src = ckpt.get(name)
    try:
        return src.to(dtype, copy=True)
    finally:
        ckpt.release(name, src)


def _stream_layer(layer, ckpt, prefix: str, dtype) -> None:
    names = [n for n in ckpt.names() if n.startswith(prefix) and "rotary_emb.inv_freq" not in n]

    def load(module, args):
        module.to_empty(device="cpu")
        module.load_state_dict({n[len(prefix):]: _fetch(ckpt, n, dtype) for n in names}, strict=True, assign=True)

    def drop(module, args, output):
        module.to("meta")

    layer.register_forward_pre_hook(load)
    layer.register_forward_hook(drop)


def batched_logits(model, sequences: list[list[int]]):
    """(T_i, V) logits for each token sequence, all in ONE right-padded forward (a streamed model then
    loads each layer once for every sequence)."""
    import torch  # lazy: torch, heavy, optional

    longest = max(len(s) for s in sequences)
    ids = torch.zeros((len(sequences), longest), dtype=torch.long)
    mask = torch.zeros((len(sequences), longest), dtype=torch.long)
    for i, s in enumerate(sequences):
        ids[i, :len(s)] = torch.as_tensor(s)
        mask[i, :len(s)] = 1
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
    return [logits[i, :len(s)] for i, s in enumerate(sequences)]

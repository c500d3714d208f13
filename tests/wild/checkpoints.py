"""MobileVLM / MobileLLaMA checkpoints as their users have them, written by transformers and torch (not by
edgevlm's writers): every config key the public checkpoint carries (edgevlm's presets hold those key sets;
the tests check them against the model cards' values), the widths shrunk to a tiny model, and the tokenizer
files as the public repos ship them (tokenizer.model, tokenizer_config.json with added_tokens_decoder,
special_tokens_map.json, and added_tokens.json when a token was added).

Weights come from real modules: transformers' LlamaForCausalLM and CLIPVisionModel, and the projector modules
of `edgevlm.reference.projector` (faithful ports of MobileVLM's, parameter names as MobileVLM stores them).
Layouts: ``save_pretrained`` (safetensors, or sharded with an index), ``torch.save(state_dict)`` in bf16 or f16.
"""
from __future__ import annotations

import json
from pathlib import Path

from tests.wild.towers import TINY_VISION

# public checkpoint → (edgevlm preset holding its key set, LLM-only)
PUBLIC = {
    "mtgv/MobileVLM-1.7B": ("mobilevlm-1.7b", False),
    "mtgv/MobileVLM-3B": ("mobilevlm-3b", False),
    "mtgv/MobileVLM_V2-1.7B": ("mobilevlm-v2-1.7b", False),
    "mtgv/MobileVLM_V2-3B": ("mobilevlm-v2-3b", False),
    "mtgv/MobileVLM_V2-7B": ("mobilevlm-v2-7b", False),
    "mtgv/MobileLLaMA-1.4B-Chat": ("mobilevlm-1.7b", True),
}
TINY_LLM = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 4,
            "intermediate_size": 176, "vocab_size": 1000}


def real_config(repo: str, tower: str) -> dict:
    """The public config.json's keys with tiny widths; `tower` is written as `mm_vision_tower`."""
    from edgevlm.checkpoint.presets import preset_dict

    preset, llm_only = PUBLIC[repo]
    d = preset_dict(preset, llm_only)
    d.update(TINY_LLM, _name_or_path=repo)
    if "n_embd" in d:  # the 3B's stale keys follow the shrink too (n_head stays the trap: 16, not 4)
        d.update(n_embd=64, n_layer=2, padded_vocab_size=1000)
    if not llm_only:
        d.update(mm_vision_tower=tower, mm_hidden_size=TINY_VISION["hidden_size"])
    return d


def tokenizer_files(folder: Path, vocab: int, added: tuple[str, ...] = ()) -> int:
    """tokenizer.model (a real LLaMA-style sentencepiece model) and the JSON files real repos ship; returns
    the vocabulary size including the added tokens."""
    from edgevlm.checkpoint.tokenizer import tokenizer_model_bytes

    base = vocab - len(added)
    (folder / "tokenizer.model").write_bytes(tokenizer_model_bytes(base))
    entry = {"lstrip": False, "normalized": False, "rstrip": False, "single_word": False}
    decoder = {str(i): {"content": c, **entry, "special": True} for i, c in enumerate(("<unk>", "<s>", "</s>"))}
    decoder.update({str(base + k): {"content": t, **entry, "special": True} for k, t in enumerate(added)})
    config = {"add_bos_token": True, "add_eos_token": False, "added_tokens_decoder": decoder,
              "bos_token": "<s>", "clean_up_tokenization_spaces": False, "eos_token": "</s>", "legacy": False,
              "model_max_length": 2048, "pad_token": "<unk>", "padding_side": "right", "sp_model_kwargs": {},
              "tokenizer_class": "LlamaTokenizer", "unk_token": "<unk>", "use_default_system_prompt": False}
    special = {"bos_token": {"content": "<s>", **entry}, "eos_token": {"content": "</s>", **entry},
               "pad_token": "<unk>", "unk_token": {"content": "<unk>", **entry}}
    _json(folder / "tokenizer_config.json", config)
    _json(folder / "special_tokens_map.json", special)
    if added:
        _json(folder / "added_tokens.json", {t: base + k for k, t in enumerate(added)})
    return vocab


def _json(path: Path, content: dict) -> None:
    path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")


def build_model(config: dict, seed: int = 0):
    """A MobileVLM as its training code holds it: LlamaForCausalLM + model.vision_tower.vision_tower.vision_model
    (CLIPVisionModel) + model.mm_projector; for a MobileLLaMA config, the LlamaForCausalLM alone."""
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModel, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    llama_keys = {k: v for k, v in config.items() if k in LlamaConfig().to_dict() or k in TINY_LLM}
    model = LlamaForCausalLM(LlamaConfig(**llama_keys))
    _spread_logits(model)
    if config["architectures"] == ["LlamaForCausalLM"]:
        return model
    from edgevlm.checkpoint.config import se_channels
    from edgevlm.reference.projector import build_ldp_v1, build_ldp_v2

    clip = CLIPVisionModel(CLIPVisionConfig(**TINY_VISION))
    if not hasattr(clip, "vision_model"):  # transformers 5 keeps the tower at the top level: 4.x's layout
        inner, clip = clip, torch.nn.Module()
        clip.vision_model = inner
    wrapper = torch.nn.Module()  # MobileVLM's CLIPVisionTower: .vision_tower is the transformers model
    wrapper.vision_tower = clip
    model.model.vision_tower = wrapper
    c, w = TINY_VISION["hidden_size"], config["hidden_size"]
    model.model.mm_projector = (build_ldp_v2(c, w) if config["mm_projector_type"] == "ldpnetv2"
                                else build_ldp_v1(c, w, se_channels(w)))
    return model


def _spread_logits(model) -> None:
    """transformers initialises with std 0.02: near-uniform logits. Scale the head so the next-token
    distributions are peaked as a trained model's are, and top-1 comparisons mean something."""
    import torch

    with torch.no_grad():
        model.lm_head.weight.mul_(40.0)


def save(model, folder: Path, config: dict, layout: str, drop_tower: bool = False) -> Path:
    """layout: safetensors | sharded (save_pretrained) | bin-bf16 | bin-f16 (torch.save of the state dict).
    config.json is the public key set (save_pretrained's own is replaced, as MobileVLM's is a custom class)."""
    import torch

    from edgevlm.checkpoint.keys import TOWER_PREFIX

    folder.mkdir(parents=True, exist_ok=True)
    if drop_tower:
        del model.model.vision_tower
    if layout in ("safetensors", "sharded"):
        model.save_pretrained(folder, max_shard_size="200KB" if layout == "sharded" else "5GB")
    else:
        dtype = {"bin-bf16": torch.bfloat16, "bin-f16": torch.float16}[layout]
        state = {k: v.to(dtype) for k, v in model.state_dict().items()}
        assert not drop_tower or not any(k.startswith(TOWER_PREFIX) for k in state)
        torch.save(state, folder / "pytorch_model.bin")
        config = dict(config, torch_dtype=str(dtype).removeprefix("torch."))
    _json(folder / "config.json", config)
    return folder

"""Every public MobileVLM / MobileLLaMA checkpoint's layout, written by transformers / torch, converted and
verified: config keys as the public config.json carries them (3B: stale keys; 7B: rms_norm_eps 1e-5, 4096
context), `mm_vision_tower` as a repo id (tower in the Hugging Face cache) and as a local path, weights by
save_pretrained (safetensors, sharded with an index) and torch.save (bf16, f16), tower inside or apart,
real tokenizer files (one with an added token)."""
from __future__ import annotations

import json
import shutil

import pytest

from edgevlm.checkpoint.tower import BUILTIN_TOWER
from edgevlm.convert import convert
from tests.wild.checkpoints import build_model, real_config, save, tokenizer_files
from tests.wild.towers import save_clip_folder

# (public repo, weights layout, where the tower is described / kept, added tokens)
CASES = [
    ("mtgv/MobileVLM-1.7B", "bin-bf16", "cache-id", ()),
    ("mtgv/MobileVLM_V2-1.7B", "safetensors", "local-path", ()),
    ("mtgv/MobileVLM-3B", "sharded", "cache-id", ()),
    ("mtgv/MobileVLM_V2-3B", "bin-f16", "local-path-apart", ()),
    ("mtgv/MobileVLM_V2-7B", "sharded", "cache-id-apart", ()),
    ("mtgv/MobileLLaMA-1.4B-Chat", "safetensors", None, ("<image>",)),
]
SOURCES = {"cache-id": "hf-cache", "cache-id-apart": "hf-cache", "local-path": "local-folder",
           "local-path-apart": "local-folder"}


def _cache_tower(hf_home, folder) -> None:
    """The tiny tower stored in the Hugging Face cache under the real tower's repo id (what a user who
    once ran MobileVLM has: `CLIPVisionModel.from_pretrained` left it there)."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    root = hf_home / "hub" / ("models--" + BUILTIN_TOWER.replace("/", "--"))
    shutil.copytree(folder, root / "snapshots" / commit)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(commit)


def _checkpoint(tmp_path, monkeypatch, repo, layout, tower, added):
    import torch

    clip = None
    if tower is not None:
        clip = tmp_path / "clip-vit-large-patch14-336"
    name = tower if tower is None else (BUILTIN_TOWER if tower.startswith("cache") else str(clip))
    cfg = real_config(repo, name)
    model = build_model(cfg)
    if layout in ("safetensors", "sharded"):
        model = model.to(torch.bfloat16)  # as the public checkpoints ship
        cfg["torch_dtype"] = "bfloat16"
    if clip is not None:  # the tower folder holds the model's own tower weights (frozen during training)
        own = {k.removeprefix("model.vision_tower.vision_tower.vision_model."): v.float()
               for k, v in model.state_dict().items() if k.startswith("model.vision_tower.")}
        save_clip_folder(clip, "clip", state=own)
        if tower.startswith("cache"):
            monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
            _cache_tower(tmp_path / "hf", clip)
            shutil.rmtree(clip)
    src = save(model, tmp_path / repo.split("/")[1], cfg, layout, drop_tower=tower is not None and "apart" in tower)
    tokenizer_files(src, cfg["vocab_size"], added)  # the added tokens are the last ids of vocab_size
    return src


def test_real_key_sets_hold_the_model_card_values():
    """What the fixtures are built from: the presets' config.json key sets, with REFERENCE.md's values."""
    from edgevlm.checkpoint.presets import preset_dict

    v27 = preset_dict("mobilevlm-v2-7b")
    assert (v27["hidden_size"], v27["num_hidden_layers"], v27["num_attention_heads"], v27["intermediate_size"]) == (
        4096, 32, 32, 11008)
    assert v27["rms_norm_eps"] == 1e-5 and v27["max_position_embeddings"] == 4096
    assert v27["mm_projector_type"] == "ldpnetv2"
    from edgevlm.checkpoint.presets import default_format

    assert default_format("mobilevlm-v2-7b") == "sharded" and default_format("mobilevlm-v2-1.7b") == "bin"
    b3 = preset_dict("mobilevlm-3b")
    assert b3["n_head"] == 16 and b3["num_attention_heads"] == 32  # the stale key that must be ignored
    chat = real_config("mtgv/MobileLLaMA-1.4B-Chat", "")
    assert chat["architectures"] == ["LlamaForCausalLM"] and "mm_vision_tower" not in chat


@pytest.mark.native
@pytest.mark.parametrize("repo,layout,tower,added", CASES, ids=[c[0].split("/")[1] for c in CASES])
def test_convert_and_verify(native_bin, tmp_path, monkeypatch, test_image, repo, layout, tower, added):
    from edgevlm.verify import verify

    src = _checkpoint(tmp_path, monkeypatch, repo, layout, tower, added)
    before = {p.name: p.stat().st_mtime_ns for p in src.iterdir()}
    result = convert(src, tmp_path / "out", quant="f16", mmproj_quant="f16")
    assert {p.name: p.stat().st_mtime_ns for p in src.iterdir()} == before, "the input was written"
    manifest = json.loads(result.manifest.read_text())
    from gguf import GGUFReader

    kv = {k: f.contents() for k, f in GGUFReader(result.llm).fields.items() if k.startswith("llama.")}
    eps, ctx = (1e-5, 4096) if repo.endswith("_V2-7B") else (1e-6, 2048)
    assert kv["llama.context_length"] == ctx and kv["llama.attention.layer_norm_rms_epsilon"] == pytest.approx(eps)
    if tower is None:
        assert manifest["vision_tower"] is None and result.mmproj is None
    else:
        assert manifest["vision_tower"]["source"] == SOURCES[tower]
        assert manifest["vision_tower"]["weights"].startswith("tower folder" if "apart" in tower else "checkpoint")
    report = verify(tmp_path / "out", src, image=test_image)
    assert report.ok, [(c.name, c.value, c.tolerance) for c in report.failed()]
    tok = next(c for c in report.checks if c.name.startswith("tokenizer"))
    assert tok.details["n_added_tokens"] == len(added) and tok.details["n_strings"] >= 200
    logits = next(c for c in report.checks if c.name.startswith("LLM logits"))
    # f16 file vs the f32 reference of the bf16/f16 checkpoint (tolerance in edgevlm.verify.llm)
    assert logits.details["top1"] >= 0.99 and logits.details["mean_kl"] <= 1e-3
    if result.mmproj is not None:
        native = next(c for c in report.checks if c.name.startswith("edgevlm native vision"))
        assert native.details["cos_min"] >= 0.999  # f16 mmproj vs the f32 reference tower (NATIVE_TOL)


@pytest.mark.native
def test_added_token_reaches_llama_cpp(native_bin, tmp_path, monkeypatch):
    """An added token (added_tokens.json) is one id in the GGUF, USER_DEFINED, and llama.cpp matches it in text."""
    from gguf import GGUFReader, TokenType

    from edgevlm.verify.native_llm import loaded_model, tokenize

    src = _checkpoint(tmp_path, monkeypatch, "mtgv/MobileLLaMA-1.4B-Chat", "safetensors", None, ("<image>",))
    result = convert(src, tmp_path / "out", quant="f16")
    reader = GGUFReader(result.llm)
    tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    types = reader.fields["tokenizer.ggml.token_type"].contents()
    assert tokens[999] == "<image>" and types[999] == int(TokenType.USER_DEFINED) and len(tokens) == 1000
    with loaded_model(result.llm, vocab_only=True) as (llama_cpp, model):
        assert 999 in tokenize(llama_cpp, model, "look: <image> here")

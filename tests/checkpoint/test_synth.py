"""`edgevlm synth`: exact layout, deterministic bytes, identical tensors across formats, loads in transformers."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile

import pytest

from edgevlm.checkpoint.config import MobileVLMConfig
from edgevlm.checkpoint.specs import tensor_specs


def _load_all(ckpt):
    """Plain loaders (torch / safetensors / index), independent of edgevlm's reader."""
    import torch
    from safetensors.torch import load_file

    if (ckpt / "model.safetensors").exists():
        return load_file(ckpt / "model.safetensors")
    if (ckpt / "pytorch_model.bin").exists():
        return torch.load(ckpt / "pytorch_model.bin", weights_only=True, mmap=True)
    index = json.loads((ckpt / "pytorch_model.bin.index.json").read_text())
    out = {}
    for shard in sorted(set(index["weight_map"].values())):
        out.update(torch.load(ckpt / shard, weights_only=True, mmap=True))
    assert set(out) == set(index["weight_map"])
    return out


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_tiny_layout(tiny_v1_ckpt):
    files = sorted(p.name for p in tiny_v1_ckpt.iterdir())
    assert files == ["config.json", "generation_config.json", "pytorch_model.bin", "special_tokens_map.json",
                     "tokenizer.model", "tokenizer_config.json"]
    cfg = MobileVLMConfig.load(tiny_v1_ckpt)
    sd = _load_all(tiny_v1_ckpt)
    assert {k: tuple(v.shape) for k, v in sd.items()} == {s.name: s.shape for s in tensor_specs(cfg)}
    assert all(str(v.dtype) == "torch.float32" for v in sd.values())  # tiny presets are f32
    tok_cfg = json.loads((tiny_v1_ckpt / "tokenizer_config.json").read_text())
    assert tok_cfg["add_bos_token"] is True and tok_cfg["add_eos_token"] is False and tok_cfg["legacy"] is False


def test_same_seed_same_bytes_other_seed_other_weights(synth_ckpt, tmp_path):
    from edgevlm.checkpoint.synth import synthesize

    a = synth_ckpt("tiny-v2", "bin")
    b = synthesize("tiny-v2", tmp_path / "again", "bin", seed=0)
    for name in ("pytorch_model.bin", "tokenizer.model", "config.json"):
        assert _sha(a / name) == _sha(b / name), name
    c = synth_ckpt("tiny-v2", "bin", seed=1)
    assert _sha(a / "pytorch_model.bin") != _sha(c / "pytorch_model.bin")


def test_formats_hold_identical_tensors(synth_ckpt, tmp_path):
    import torch

    from edgevlm.checkpoint.synth import synthesize

    ref = _load_all(synth_ckpt("tiny-v1", "bin"))
    sharded = synthesize("tiny-v1", tmp_path / "sh", "sharded", shard_size="700KB")
    assert len(list(sharded.glob("pytorch_model-*-of-*.bin"))) >= 3
    for ckpt in (synth_ckpt("tiny-v1", "safetensors"), sharded):
        other = _load_all(ckpt)
        assert list(other) == list(ref) or set(other) == set(ref)
        for k, v in ref.items():
            assert torch.equal(v, other[k]), k


def test_bin_is_torch_zip_with_aligned_records(tiny_v1_ckpt):
    with zipfile.ZipFile(tiny_v1_ckpt / "pytorch_model.bin") as z:
        names = z.namelist()
        assert "pytorch_model/data.pkl" in names and "pytorch_model/version" in names
        raw = (tiny_v1_ckpt / "pytorch_model.bin").read_bytes()
        for info in z.infolist():
            n, e = int.from_bytes(raw[info.header_offset + 26:][:2], "little"), \
                int.from_bytes(raw[info.header_offset + 28:][:2], "little")
            assert (info.header_offset + 30 + n + e) % 64 == 0, info.filename  # torch's 64-byte alignment


def test_bf16_override(synth_ckpt, tmp_path):
    import torch

    from edgevlm.checkpoint.synth import synthesize

    ckpt = synthesize("tiny-v2", tmp_path / "bf16", "safetensors", dtype="bfloat16")
    sd, ref = _load_all(ckpt), _load_all(synth_ckpt("tiny-v2", "safetensors"))
    assert all(v.dtype == torch.bfloat16 for v in sd.values())
    assert all(torch.equal(sd[k], ref[k].to(torch.bfloat16)) for k in ref)
    assert json.loads((ckpt / "config.json").read_text())["torch_dtype"] == "bfloat16"


def test_llm_part_runs_in_transformers(tiny_llm_only_ckpt):
    """The LLM-only checkpoint loads strictly into LlamaForCausalLM and gives non-degenerate logits."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    d = json.loads((tiny_llm_only_ckpt / "config.json").read_text())
    assert d["architectures"] == ["LlamaForCausalLM"] and not any(k.startswith("mm_") for k in d)
    model = LlamaForCausalLM(LlamaConfig(**{k: v for k, v in d.items() if k != "torch_dtype"})).eval()
    missing, unexpected = model.load_state_dict(_load_all(tiny_llm_only_ckpt), strict=True)
    assert not missing and not unexpected
    with torch.no_grad():
        logits = model(torch.tensor([[1, 50, 300, 7, 999]])).logits[0]
    std = logits.std(dim=-1)
    assert torch.all(std > 0.5) and torch.all(std < 20)  # peaked but finite: not all-equal, not exploding
    assert len(set(logits.argmax(-1).tolist())) > 1  # the prediction depends on the context


def test_tokenizer_is_llama_style(tiny_v1_ckpt):
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(tiny_v1_ckpt / "tokenizer.model"))
    assert sp.vocab_size() == MobileVLMConfig.load(tiny_v1_ckpt).llm.vocab_size
    assert [sp.id_to_piece(i) for i in (0, 1, 2)] == ["<unk>", "<s>", "</s>"]
    assert sp.pad_id() == -1 and sp.id_to_piece(3) == "<0x00>"  # byte fallback pieces follow the specials
    text = "Zürich 2024: 東京 🚀 — naïve café!"
    assert sp.decode(sp.encode(text)) == text  # byte fallback: nothing is lost to <unk>
    assert 0 not in sp.encode(text)


def _cli(*args):
    env = dict(os.environ, COLUMNS="400")  # rich wraps at the terminal width; a wide one shows the single line
    return subprocess.run([sys.executable, "-m", "edgevlm", "synth", *args], capture_output=True, text=True,
                          env=env, timeout=120)


@pytest.mark.parametrize("case", ["bad_preset", "unwritable", "not_empty", "bad_format", "bad_shard"])
def test_cli_errors_exit_2_one_line(case, tmp_path, tiny_v1_ckpt):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    args = {
        "bad_preset": ["tiny-v9", "-o", str(tmp_path / "o")],
        "unwritable": ["tiny-v1", "-o", str(blocker / "sub")],
        "not_empty": ["tiny-v1", "-o", str(tiny_v1_ckpt)],
        "bad_format": ["tiny-v1", "-o", str(tmp_path / "o"), "--format", "zip"],
        "bad_shard": ["tiny-v1", "-o", str(tmp_path / "o"), "--format", "sharded", "--shard-size", "lots"],
    }[case]
    r = _cli(*args)
    assert r.returncode == 2, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip() and not line.startswith("  hint:")]
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()
    assert not list(tmp_path.glob(".o.tmp-*"))  # no half-written output left behind


def test_cli_writes(tmp_path):
    r = _cli("tiny-v2", "-o", str(tmp_path / "ck"), "--format", "safetensors", "--seed", "3")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "ck" / "model.safetensors").is_file()

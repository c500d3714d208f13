"""`edgevlm convert` on tiny synthetic checkpoints: every projector type and weight format, read back."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from edgevlm.checkpoint.reader import open_checkpoint
from edgevlm.convert import convert


def _folder_state(folder: Path) -> dict:
    return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("preset,fmt", [("tiny-v1", "bin"), ("tiny-v2", "bin"), ("tiny-v2", "safetensors"),
                                        ("tiny-v1", "sharded")])
def test_converts_every_projector_and_format(synth_ckpt, tmp_path, read_gguf, preset, fmt):
    src = synth_ckpt(preset, fmt)
    before = _folder_state(src)
    result = convert(src, tmp_path / "out", quant="f32", mmproj_quant="f32")
    assert _folder_state(src) == before, "the input folder must never be written"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        [result.llm.name, result.mmproj.name, "manifest.json"]), "no staging or temp files may remain"

    kv, tensors = read_gguf(result.mmproj)
    assert kv["clip.projector_type"] == {"tiny-v1": "ldp", "tiny-v2": "ldpv2"}[preset]
    assert kv["clip.vision.block_count"] == 4, "all tower layers stored: stock then runs 3 = MobileVLM's -2"
    assert kv["edgevlm.vision.select_layer"] == -2
    assert not any(n.startswith("v.post_ln") for n in tensors)
    ckpt = open_checkpoint(src)
    # conv kernels are f16 in every mode (stock's im2col conv needs it); the transform only squeezes them
    peg_or_dw = "mm.model.peg.0.weight" if preset == "tiny-v2" else "mm.model.mb_block.1.block.0.0.weight"
    src_name = ("model.mm_projector.peg.peg.0.weight" if preset == "tiny-v2"
                else "model.mm_projector.model.mb_block.1.block.0.0.weight")
    np.testing.assert_array_equal(tensors[peg_or_dw].data, ckpt.get(src_name).squeeze(1).half().numpy())
    np.testing.assert_array_equal(tensors["v.blk.1.ffn_up.weight"].data,  # f32 mode: other matrices exact
                                  ckpt.get("model.vision_tower.vision_tower.vision_model.encoder.layers.1.mlp.fc1.weight"
                                           ).numpy())
    assert tensors[peg_or_dw].data.shape == (64, 3, 3)

    manifest = json.loads(result.manifest.read_text())
    assert manifest["files"]["llm"]["sha256"] == hashlib.sha256(result.llm.read_bytes()).hexdigest()
    assert manifest["files"]["mmproj"]["size"] == result.mmproj.stat().st_size
    assert manifest["llama_cpp_commit"] == "0c1e57098"
    assert manifest["parameters"]["llm"] == sum(t.numel() for n, t in ((n, ckpt.get(n)) for n in ckpt.names())
                                               if not n.startswith(("model.vision_tower", "model.mm_projector")))


def test_llm_tensors_and_rope_permutation(tiny_v2_ckpt, tmp_path, read_gguf):
    result = convert(tiny_v2_ckpt, tmp_path / "out", quant="f32", mmproj_quant="f32")
    kv, tensors = read_gguf(result.llm)
    assert kv["general.architecture"] == "llama"
    assert (kv["llama.block_count"], kv["llama.embedding_length"], kv["llama.attention.head_count"]) == (2, 64, 4)
    assert kv["llama.rope.dimension_count"] == 16
    assert kv["tokenizer.ggml.add_bos_token"] is True and kv["tokenizer.ggml.add_eos_token"] is False
    assert kv["tokenizer.ggml.bos_token_id"] == 1 and kv["tokenizer.ggml.eos_token_id"] == 2
    assert len(kv["tokenizer.ggml.tokens"]) == 1000
    ckpt = open_checkpoint(tiny_v2_ckpt)
    q = ckpt.get("model.layers.1.self_attn.q_proj.weight")
    # HF rotate-half rows (first half / second half of each head) → ggml adjacent pairs
    expected = q.reshape(4, 2, 8, 64).transpose(1, 2).reshape(64, 64)
    np.testing.assert_array_equal(tensors["blk.1.attn_q.weight"].data, expected.numpy())
    assert not torch.equal(expected, q), "the permutation must actually move rows"
    np.testing.assert_array_equal(tensors["output.weight"].data, ckpt.get("lm_head.weight").numpy())


def test_chat_template_renders_mobilevlm_prompt(tiny_v2_ckpt, tmp_path, read_gguf):
    import jinja2

    result = convert(tiny_v2_ckpt, tmp_path / "out", quant="f16")
    kv, _ = read_gguf(result.llm)
    template = jinja2.Environment().from_string(kv["tokenizer.chat_template"])
    text = template.render(messages=[{"role": "user", "content": "<image>\nWhat is this?"}],
                           bos_token="<s>", eos_token="</s>", add_generation_prompt=True)
    assert text == ("<s>A chat between a curious user and an artificial intelligence assistant. The assistant "
                    "gives helpful, detailed, and polite answers to the user's questions. USER: <image>\n"
                    "What is this? ASSISTANT:")
    two_turns = template.render(messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"},
                                          {"role": "user", "content": "again"}],
                                bos_token="<s>", eos_token="</s>", add_generation_prompt=True)
    assert two_turns.endswith("USER: hi ASSISTANT: yo</s>USER: again ASSISTANT:")  # vicuna v1 separators


def test_text_only_checkpoint_writes_only_the_llm(tiny_llm_only_ckpt, tmp_path):
    result = convert(tiny_llm_only_ckpt, tmp_path / "out", quant="f16", name="mobilellama")
    assert result.mmproj is None
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["manifest.json", "mobilellama-F16.gguf"]
    assert json.loads(result.manifest.read_text())["files"]["mmproj"] is None


def test_second_run_is_byte_identical(tiny_v1_ckpt, tmp_path):
    a = convert(tiny_v1_ckpt, tmp_path / "a", quant="f16", mmproj_quant="q8_0")
    b = convert(tiny_v1_ckpt, tmp_path / "b", quant="f16", mmproj_quant="q8_0")
    for x, y in ((a.llm, b.llm), (a.mmproj, b.mmproj), (a.manifest, b.manifest)):
        assert x.read_bytes() == y.read_bytes(), x.name


def test_mmproj_q8_0_quantizes_only_whole_block_matrices(tiny_v1_ckpt, tmp_path, read_gguf):
    result = convert(tiny_v1_ckpt, tmp_path / "out", quant="f16", mmproj_quant="q8_0")
    _, tensors = read_gguf(result.mmproj)
    types = {n: t.tensor_type.name for n, t in tensors.items()}
    assert types["v.blk.0.attn_q.weight"] == "Q8_0"
    assert types["mm.model.mb_block.1.block.1.fc2.weight"] == "F16", "16 columns: not a whole q8_0 block"
    assert types["mm.model.mb_block.1.block.0.0.weight"] == "F16", "depthwise kernels stay f16"
    assert types["v.blk.0.attn_q.bias"] == "F32"

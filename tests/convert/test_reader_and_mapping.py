"""The lazy reader (metadata without data, identical tensors across formats) and the mapping tables."""
from __future__ import annotations

import json
import shutil

import pytest
import torch

from edgevlm.checkpoint.config import MobileVLMConfig
from edgevlm.checkpoint.presets import preset_config
from edgevlm.checkpoint.reader import open_checkpoint
from edgevlm.errors import InvalidCheckpoint, TensorMappingError
from edgevlm.mapping import check_coverage, tables_for
from edgevlm.mapping.spec import rope_permute, squeeze_conv


def test_all_formats_hold_the_same_tensors(synth_ckpt):
    ckpts = [open_checkpoint(synth_ckpt("tiny-v2", fmt)) for fmt in ("bin", "safetensors", "sharded")]
    names = sorted(ckpts[0].names())
    assert all(sorted(c.names()) == names for c in ckpts[1:])
    for name in names[::7]:
        ref = ckpts[0].get(name)
        for c in ckpts[1:]:
            assert c.meta(name).shape == tuple(ref.shape) and c.meta(name).dtype == "float32"
            assert torch.equal(c.get(name), ref), name


def test_sharded_index_naming_a_tensor_its_shard_lacks(synth_ckpt, tmp_path):
    src = tmp_path / "ckpt"
    shutil.copytree(synth_ckpt("tiny-v1", "sharded"), src)
    index = json.loads((src / "pytorch_model.bin.index.json").read_text())
    index["weight_map"]["model.ghost.weight"] = next(iter(index["weight_map"].values()))
    (src / "pytorch_model.bin.index.json").write_text(json.dumps(index))
    with pytest.raises(InvalidCheckpoint, match="model.ghost.weight"):
        open_checkpoint(src)


def test_no_weights(tmp_path, tiny_v2_ckpt):
    (tmp_path / "c").mkdir()
    shutil.copy(tiny_v2_ckpt / "config.json", tmp_path / "c" / "config.json")
    with pytest.raises(InvalidCheckpoint, match="no weights"):
        open_checkpoint(tmp_path / "c")


def test_rope_permutation_interleaves_halves_per_head():
    rows = torch.arange(8.0).reshape(8, 1)  # 2 heads × head_dim 4: halves (0,1 | 2,3) and (4,5 | 6,7)
    out = rope_permute(2).apply(rows).flatten().tolist()
    assert out == [0, 2, 1, 3, 4, 6, 5, 7]


def test_squeeze_conv_shapes():
    assert squeeze_conv().out_shape((2048, 1, 3, 3)) == (2048, 3, 3)
    assert squeeze_conv().out_shape((512, 2048, 1, 1)) == (512, 2048)


@pytest.mark.parametrize("preset,n_mm", [("mobilevlm-1.7b", 24 * 16 + 5 + 24), ("mobilevlm-v2-3b", 24 * 16 + 5 + 6)])
def test_real_shapes_tables(preset, n_mm):
    """Real configs: 24 CLIP layers stored (16 tensors each) + embeddings/pre_ln + projector; 3B: 32 heads."""
    cfg = preset_config(preset)
    llm, mm = tables_for(cfg, ["lm_head.weight"])
    assert len(mm.specs) == n_mm
    assert len(llm.specs) == 9 * cfg.llm.num_hidden_layers + 3
    q = next(s for s in llm.specs if s.target == "blk.0.attn_q.weight")
    assert q.transform.name == f"rope_permute({cfg.llm.num_attention_heads})"


def test_coverage_lists_everything_at_once():
    cfg: MobileVLMConfig = preset_config("tiny-v2")
    llm, mm = tables_for(cfg, ["lm_head.weight"])
    shapes = {s.source: s.shape for t in (llm, mm) for s in t.specs}
    shapes.pop("model.norm.weight")
    shapes["model.layers.0.mlp.up_proj.weight"] = (1, 1)
    shapes["model.layers.0.self_attn.rotary_emb.inv_freq"] = (8,)                      # ignored on purpose
    shapes["model.vision_tower.vision_tower.vision_model.post_layernorm.weight"] = (64,)  # ignored on purpose
    shapes["model.surprise"] = (3,)
    with pytest.raises(TensorMappingError) as err:
        check_coverage([llm, mm], shapes)
    msg = str(err.value)
    assert "1 missing" in msg and "1 unexpected" in msg and "1 misshaped" in msg
    assert "inv_freq" not in msg and "post_layernorm" not in msg

"""The typed config: real key sets parse, stale keys are ignored, bad values give typed errors."""
from __future__ import annotations

import json

import pytest

from edgevlm.checkpoint.config import MobileVLMConfig, se_channels
from edgevlm.checkpoint.presets import preset_dict, preset_names
from edgevlm.errors import InputNotFound, InvalidCheckpoint, UnsupportedModel

# The real mtgv/MobileVLM_V2-1.7B config.json (Hugging Face model card), key for key.
REAL_V2_17B = {
    "_name_or_path": "mtgv/MobileVLM_V2-1.7B", "architectures": ["MobileLlamaForCausalLM"], "bos_token_id": 1,
    "eos_token_id": 2, "freeze_mm_mlp_adapter": False, "hidden_act": "silu", "hidden_size": 2048,
    "image_aspect_ratio": "pad", "image_grid_pinpoints": None, "initializer_range": 0.02,
    "intermediate_size": 5632, "max_position_embeddings": 2048, "max_sequence_length": 2048,
    "mm_hidden_size": 1024, "mm_projector_lr": None, "mm_projector_type": "ldpnetv2",
    "mm_use_im_patch_token": False, "mm_use_im_start_end": False, "mm_vision_select_feature": "patch",
    "mm_vision_select_layer": -2, "mm_vision_tower": "openai/clip-vit-large-patch14-336", "model_type": "mobilevlm",
    "num_attention_heads": 16, "num_hidden_layers": 24, "num_key_value_heads": 16, "pad_token_id": 0,
    "pretraining_tp": 1, "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 10000.0,
    "tie_word_embeddings": False, "torch_dtype": "bfloat16", "transformers_version": "4.33.1",
    "tune_mm_mlp_adapter": False, "use_cache": True, "use_mm_proj": True, "vision_tower_type": "clip",
    "vocab_size": 32000,
}


def test_real_v2_config_parses_to_reference_shapes():
    cfg = MobileVLMConfig.from_hf_dict(REAL_V2_17B)
    assert cfg.is_multimodal and cfg.projector_type == "ldpnetv2"
    assert (cfg.llm.hidden_size, cfg.llm.num_hidden_layers, cfg.llm.num_attention_heads) == (2048, 24, 16)
    assert cfg.llm.head_dim == 128 and cfg.llm.vocab_size == 32000 and cfg.llm.rms_norm_eps == 1e-6
    v = cfg.vision
    assert (v.hidden_size, v.num_hidden_layers, v.num_attention_heads, v.intermediate_size) == (1024, 24, 16, 4096)
    assert (v.num_patches, v.grid, v.n_layers_used, cfg.projector_tokens) == (576, 24, 23, 144)
    assert v.hidden_act == "quick_gelu" and v.layer_norm_eps == 1e-5


def test_preset_key_set_matches_real_config():
    assert set(preset_dict("mobilevlm-v2-1.7b")) - {"_name_or_path"} == set(REAL_V2_17B) - {"_name_or_path"}


def test_3b_stale_keys_are_ignored():
    d = preset_dict("mobilevlm-3b")
    assert d["n_head"] == 16 and d["num_attention_heads"] == 32  # the trap REFERENCE.md describes
    cfg = MobileVLMConfig.from_hf_dict(d)
    assert cfg.llm.num_attention_heads == 32 and cfg.llm.head_dim == 80 and cfg.projector_type == "ldpnet"


@pytest.mark.parametrize("name", preset_names())
@pytest.mark.parametrize("llm_only", [False, True])
def test_round_trip(name, llm_only):
    cfg = MobileVLMConfig.from_hf_dict(preset_dict(name, llm_only))
    assert MobileVLMConfig.from_hf_dict(json.loads(json.dumps(cfg.to_hf_dict()))) == cfg
    assert cfg.is_multimodal is not llm_only
    assert cfg.architecture == ("LlamaForCausalLM" if llm_only else "MobileLlamaForCausalLM")


@pytest.mark.parametrize("value", ["ldp", "ldpnetv3", "LDPNet", "mlp2x_gelu", None])
def test_projector_type_exact_match(value):
    d = dict(REAL_V2_17B, mm_projector_type=value)
    with pytest.raises(UnsupportedModel, match="ldpnet, ldpnetv2"):
        MobileVLMConfig.from_hf_dict(d)


def test_v1_projector_accepted():
    assert MobileVLMConfig.from_hf_dict(dict(REAL_V2_17B, mm_projector_type="ldpnet")).projector_type == "ldpnet"


def test_unknown_tower_without_vision_config():
    with pytest.raises(UnsupportedModel, match="describes the vision tower 'someone/vit'") as err:
        MobileVLMConfig.from_hf_dict(dict(REAL_V2_17B, mm_vision_tower="someone/vit"))
    assert "--vision-tower" in str(err.value)  # the message names the way out


def test_tiny_tower_from_vision_config():
    cfg = MobileVLMConfig.from_hf_dict(preset_dict("tiny-v1"))
    assert cfg.vision.hidden_size == 64 and cfg.vision.num_patches == 576 and cfg.projector_tokens == 144


@pytest.mark.parametrize("change, error, text", [
    ({"mm_hidden_size": 768}, InvalidCheckpoint, "mm_hidden_size"),
    ({"hidden_size": 2050}, InvalidCheckpoint, "divisible"),
    ({"architectures": ["GPT2LMHeadModel"]}, UnsupportedModel, "GPT2LMHeadModel"),
    ({"vocab_size": "many"}, InvalidCheckpoint, "vocab_size"),
    ({"mm_vision_select_layer": -30}, InvalidCheckpoint, "out of range"),
    ({"mm_vision_select_feature": "cls_patch"}, UnsupportedModel, "cls_patch"),
])
def test_invalid_values(change, error, text):
    with pytest.raises(error, match=text):
        MobileVLMConfig.from_hf_dict(dict(REAL_V2_17B, **change))


def test_missing_key():
    d = dict(REAL_V2_17B)
    del d["intermediate_size"]
    with pytest.raises(InvalidCheckpoint, match="intermediate_size"):
        MobileVLMConfig.from_hf_dict(d)


def test_load(tmp_path):
    with pytest.raises(InputNotFound):
        MobileVLMConfig.load(tmp_path)
    (tmp_path / "config.json").write_text("{nope")
    with pytest.raises(InvalidCheckpoint, match="not valid JSON"):
        MobileVLMConfig.load(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(REAL_V2_17B))
    assert MobileVLMConfig.load(tmp_path) == MobileVLMConfig.from_hf_dict(REAL_V2_17B)


def test_se_channels_as_real_checkpoints():
    assert (se_channels(2048), se_channels(2560), se_channels(64)) == (512, 640, 16)

"""The vision tower resolved like upstream MobileVLM resolves it, with tower folders written by transformers.

Each conversion is compared with the conversion of the same weights described by `vision_config` (what
`edgevlm synth` writes): the mmproj must be byte-identical, so resolution changes where the description and
weights come from, never what is written.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from edgevlm.checkpoint.keys import TOWER_PREFIX
from edgevlm.checkpoint.reader import open_checkpoint, weight_patterns
from edgevlm.checkpoint.tower import BUILTIN_TOWER, resolve_tower
from edgevlm.convert import convert
from edgevlm.errors import InputNotFound, TensorMappingError, UnsupportedModel
from tests.wild.towers import save_clip_folder, tower_state


def _variant(src: Path, dst: Path, tower: str, drop_tower_weights: bool = False) -> Path:
    """A copy of `src` whose config names the tower (no vision_config), optionally without tower weights."""
    shutil.copytree(src, dst)
    cfg = json.loads((dst / "config.json").read_text())
    del cfg["vision_config"]
    cfg["mm_vision_tower"] = tower
    (dst / "config.json").write_text(json.dumps(cfg, indent=2))
    if drop_tower_weights:
        state = torch.load(dst / "pytorch_model.bin", weights_only=True)
        torch.save({k: v for k, v in state.items() if not k.startswith(TOWER_PREFIX)}, dst / "pytorch_model.bin")
    return dst


@pytest.fixture(scope="module")
def baseline(tiny_v2_ckpt, tmp_path_factory):
    out = convert(tiny_v2_ckpt, tmp_path_factory.mktemp("base") / "out", quant="f16", mmproj_quant="f16")
    return out.mmproj.read_bytes()


@pytest.fixture(scope="module")
def clip_folder(tiny_v2_ckpt, tmp_path_factory):
    """openai-style CLIP repo (text tower included) holding the checkpoint's own tower weights."""
    return save_clip_folder(tmp_path_factory.mktemp("towers") / "clip-vit-tiny-336", "clip",
                            state=tower_state(tiny_v2_ckpt))


def _manifest(result) -> dict:
    return json.loads(result.manifest.read_text())


def test_local_tower_folder_as_training_left_it(tiny_v2_ckpt, clip_folder, baseline, tmp_path):
    src = _variant(tiny_v2_ckpt, tmp_path / "ckpt", str(clip_folder))
    result = convert(src, tmp_path / "out", quant="f16", mmproj_quant="f16")
    assert result.mmproj.read_bytes() == baseline
    tower = _manifest(result)["vision_tower"]
    assert tower["source"] == "local-folder" and tower["name"] == str(clip_folder)
    assert (tower["num_attention_heads"], tower["num_hidden_layers"], tower["hidden_size"]) == (4, 4, 64)
    assert tower["weights"].startswith("checkpoint (the tower folder") and "were used" in tower["weights"]
    assert "vision tower:" in result.vision_tower and str(clip_folder) in result.vision_tower
    from edgevlm.artifact import find_model

    assert find_model(tmp_path / "out").vision_tower == tower  # the runtime sees the same resolution


@pytest.mark.parametrize("kind,safe", [("clip", True), ("clip", False), ("vision", True)])
def test_tower_weights_from_a_separate_clip_checkpoint(tiny_v2_ckpt, baseline, tmp_path, kind, safe):
    """Checkpoint with LLM + projector only; the tower (CLIPModel with its text tower, or a CLIPVisionModel,
    safetensors or pytorch_model.bin) supplies description AND weights."""
    folder = save_clip_folder(tmp_path / "tower", kind, safe=safe, state=tower_state(tiny_v2_ckpt))
    assert (folder / ("model.safetensors" if safe else "pytorch_model.bin")).is_file()
    src = _variant(tiny_v2_ckpt, tmp_path / "ckpt", str(folder), drop_tower_weights=True)
    result = convert(src, tmp_path / "out", quant="f16", mmproj_quant="f16")
    assert result.mmproj.read_bytes() == baseline
    assert _manifest(result)["vision_tower"]["weights"].startswith("tower folder: " + str(folder))


def test_tower_folder_missing_and_misshaped_tensors_named(tiny_v2_ckpt, tmp_path):
    state = tower_state(tiny_v2_ckpt)
    folder = save_clip_folder(tmp_path / "tower", "clip", state=state)
    from safetensors.torch import load_file, save_file

    tensors = load_file(folder / "model.safetensors")
    del tensors["vision_model.encoder.layers.2.mlp.fc1.weight"]
    tensors["vision_model.encoder.layers.0.self_attn.q_proj.bias"] = torch.zeros(3)
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    src = _variant(tiny_v2_ckpt, tmp_path / "ckpt", str(folder), drop_tower_weights=True)
    with pytest.raises(TensorMappingError) as err:
        convert(src, tmp_path / "out")
    msg = str(err.value)
    assert "1 missing" in msg and TOWER_PREFIX + "encoder.layers.2.mlp.fc1.weight" in msg
    assert "1 misshaped" in msg and "layers.0.self_attn.q_proj.bias: (3,), expected (64,)" in msg
    assert "text_model" not in msg, "the text tower is ignored, not reported"
    assert not (tmp_path / "out").exists()


def _hf_cache_entry(cache: Path, repo_id: str, folder: Path) -> None:
    """The layout huggingface_hub's cache uses: models--org--name/{refs/main, snapshots/<commit>/files}."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    root = cache / ("models--" + repo_id.replace("/", "--"))
    shutil.copytree(folder, root / "snapshots" / commit)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(commit)


def test_tower_only_in_the_hf_cache(tiny_v2_ckpt, clip_folder, baseline, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    _hf_cache_entry(tmp_path / "hf" / "hub", "someone/tiny-clip-336", clip_folder)
    src = _variant(tiny_v2_ckpt, tmp_path / "ckpt", "someone/tiny-clip-336", drop_tower_weights=True)
    result = convert(src, tmp_path / "out", quant="f16", mmproj_quant="f16")
    assert result.mmproj.read_bytes() == baseline
    tower = _manifest(result)["vision_tower"]
    assert tower["source"] == "hf-cache" and tower["name"] == "someone/tiny-clip-336"


def test_vision_tower_override_beats_everything(tiny_v2_ckpt, clip_folder, baseline, tmp_path):
    src = _variant(tiny_v2_ckpt, tmp_path / "ckpt", "/data/models/clip-vit-large-patch14-336",
                   drop_tower_weights=True)
    result = convert(src, tmp_path / "out", quant="f16", mmproj_quant="f16", vision_tower=clip_folder)
    assert result.mmproj.read_bytes() == baseline
    tower = _manifest(result)["vision_tower"]
    assert tower["source"] == "override-folder" and tower["override"] == str(clip_folder)


@pytest.mark.native
def test_verify_reuses_the_recorded_override(native_bin, tiny_v2_ckpt, clip_folder, tmp_path, test_image):
    """verify resolves the tower as convert did (the --vision-tower recorded in manifest.json)."""
    from edgevlm.verify import verify

    src = _variant(tiny_v2_ckpt, tmp_path / "ckpt", "/data/models/clip-vit-large-patch14-336",
                   drop_tower_weights=True)
    convert(src, tmp_path / "out", quant="f16", mmproj_quant="f16", vision_tower=clip_folder)
    report = verify(tmp_path / "out", src, image=test_image)
    assert report.ok, [(c.name, c.value) for c in report.failed()]
    native = next(c for c in report.checks if c.name.startswith("edgevlm native vision"))
    assert native.details["cos_min"] >= 0.999  # f16 mmproj vs the f32 reference tower (NATIVE_TOL)


def test_nothing_describes_the_tower_exit_2_naming_the_option(tiny_v2_ckpt, tmp_path):
    """The path training left behind does not exist here: exit 2, the message names --vision-tower."""
    src = _variant(tiny_v2_ckpt, tmp_path / "ckpt", "/data/models/clip-vit-large-patch14-336")
    proc = subprocess.run([sys.executable, "-m", "edgevlm", "convert", str(src), "-o", str(tmp_path / "o")],
                          capture_output=True, text=True)
    err = " ".join(proc.stderr.split())
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "/data/models/clip-vit-large-patch14-336" in err and "--vision-tower" in err
    assert not (tmp_path / "o").exists()


def test_cli_override_and_shown(tiny_v2_ckpt, clip_folder, tmp_path):
    src = _variant(tiny_v2_ckpt, tmp_path / "ckpt", "someone/not-cached", drop_tower_weights=True)
    proc = subprocess.run([sys.executable, "-m", "edgevlm", "convert", str(src), "-o", str(tmp_path / "o"),
                           "--quant", "f16", "--vision-tower", str(clip_folder)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"vision tower: {clip_folder} (override-folder)" in proc.stdout
    assert f"weights from the tower folder: {clip_folder}/model.safetensors" in proc.stdout


def test_override_by_repo_id_from_the_hf_cache(clip_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    _hf_cache_entry(tmp_path / "hf" / "hub", "someone/tiny-clip-336", clip_folder)
    tower = resolve_tower({"mm_vision_tower": "/gone/clip"}, override="someone/tiny-clip-336")
    assert tower.source == "override-hf-cache" and tower.description.hidden_size == 64
    assert tower.weight_file().name == "model.safetensors"
    with pytest.raises(InputNotFound, match="--vision-tower ./nope: no such folder"):
        resolve_tower({"mm_vision_tower": "/gone/clip"}, override="./nope")


def test_no_tower_weights_anywhere_offline_names_the_option(tiny_v2_ckpt, tmp_path, monkeypatch):
    """Tower described by the built-in ViT-L but weighed nowhere (not in the checkpoint, not cached, offline)."""
    from edgevlm.errors import InvalidCheckpoint

    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf"))
    src = _variant(tiny_v2_ckpt, tmp_path / "ckpt", BUILTIN_TOWER, drop_tower_weights=True)
    cfg = json.loads((src / "config.json").read_text())
    (src / "config.json").write_text(json.dumps(dict(cfg, mm_hidden_size=1024)))  # ViT-L's width, as described
    with pytest.raises(InvalidCheckpoint, match="(?s)holds no vision tower weights.*--vision-tower"):
        convert(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_builtin_description_of_the_real_tower():
    tower = resolve_tower({"mm_vision_tower": BUILTIN_TOWER})
    d = tower.description
    assert tower.source == "built-in" and (d.hidden_size, d.num_hidden_layers, d.num_attention_heads) == (1024, 24, 16)


def test_clip_config_omitted_keys_take_transformers_defaults(tmp_path):
    """A CLIPVisionConfig json without num_attention_heads means transformers' default (12), as
    CLIPVisionModel.from_pretrained reads it — never a guess from shapes or edgevlm's ViT-L defaults."""
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "clip_vision_model", "hidden_size": 768,
                                                    "image_size": 336, "patch_size": 14}))
    tower = resolve_tower({"mm_vision_tower": str(folder)})
    assert tower.description.num_attention_heads == 12 and tower.description.intermediate_size == 3072


def test_mistyped_local_path_is_an_error_not_a_download(tmp_path, monkeypatch):
    import edgevlm.checkpoint.reader as reader

    monkeypatch.setattr(reader, "_download", lambda *a: pytest.fail("a mistyped path must not be downloaded"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    for typo in ("./MobileVLM-1.7B", "models/MobileVLM-1.7B", "MobileVLM-1.7B"):
        with pytest.raises(InputNotFound, match=f"checkpoint folder {typo.removeprefix('./')} does not exist"):
            open_checkpoint(typo)


def test_repo_with_both_formats_downloads_one():
    both = ["config.json", "pytorch_model.bin", "model.safetensors", "tokenizer.model"]
    assert weight_patterns(both) == ["*.json", "*.model", "*.txt", "*.safetensors"]
    assert weight_patterns(["config.json", "pytorch_model-00001-of-00002.bin"])[-1] == "*.bin"


def test_unknown_tower_offline_names_the_option():
    with pytest.raises(UnsupportedModel, match="--vision-tower"):
        resolve_tower({"mm_vision_tower": "someone/vit"})

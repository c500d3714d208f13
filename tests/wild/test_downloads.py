"""Downloads through huggingface_hub's own client against a stand-in Hub on 127.0.0.1 (tests/wild/fake_hub.py):
one weight format when a repo holds two, the tower fetched by repo id when nothing here has it, and the Hub's
"not found" turned into exit 2. The CLI runs in a subprocess so huggingface_hub reads HF_ENDPOINT at import."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from edgevlm.checkpoint.keys import TOWER_PREFIX
from tests.wild.fake_hub import FakeHub
from tests.wild.towers import save_clip_folder, tower_state


def _convert(hub: FakeHub, tmp_path, *args) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_ENDPOINT=hub.url, HF_HOME=str(tmp_path / "hf"))
    env.pop("HF_HUB_OFFLINE", None)  # this test allows the network: the stand-in hub on loopback
    return subprocess.run([sys.executable, "-m", "edgevlm", "convert", *args, "--quant", "f16"], env=env,
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)


def _both_formats(src, dst):
    """The checkpoint with model.safetensors beside its pytorch_model.bin (same tensors), as some repos ship."""
    from safetensors.torch import save_file

    shutil.copytree(src, dst)
    state = torch.load(dst / "pytorch_model.bin", weights_only=True)
    save_file({k: v.contiguous() for k, v in state.items()}, dst / "model.safetensors", metadata={"format": "pt"})
    return dst


def test_repo_with_bin_and_safetensors_downloads_one_format(tiny_v2_ckpt, tmp_path):
    repo = _both_formats(tiny_v2_ckpt, tmp_path / "repo")
    with FakeHub({"someone/tiny-mobilevlm": repo}) as hub:
        proc = _convert(hub, tmp_path, "someone/tiny-mobilevlm", "-o", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    fetched = hub.fetched()
    assert "model.safetensors" in fetched and "pytorch_model.bin" not in fetched, fetched
    assert {"config.json", "tokenizer.model", "tokenizer_config.json"} <= set(fetched)


def test_tower_fetched_by_repo_id_when_nothing_here_has_it(tiny_v2_ckpt, tmp_path):
    """Checkpoint without tower weights naming a tower repo that is neither local nor cached: its config,
    preprocessor config and ONE weight file are fetched (the repo has safetensors and .bin)."""
    tower = save_clip_folder(tmp_path / "tower-repo", "clip", state=tower_state(tiny_v2_ckpt))
    torch.save(_safetensors_state(tower), tower / "pytorch_model.bin")  # openai's repo ships both formats
    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_v2_ckpt, ckpt)
    cfg = json.loads((ckpt / "config.json").read_text())
    del cfg["vision_config"]
    (ckpt / "config.json").write_text(json.dumps(dict(cfg, mm_vision_tower="someone/tiny-clip-336")))
    state = torch.load(ckpt / "pytorch_model.bin", weights_only=True)
    torch.save({k: v for k, v in state.items() if not k.startswith(TOWER_PREFIX)}, ckpt / "pytorch_model.bin")
    with FakeHub({"someone/tiny-clip-336": tower}) as hub:
        proc = _convert(hub, tmp_path, str(ckpt), "-o", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    fetched = hub.fetched()
    assert sorted(fetched) == ["config.json", "model.safetensors", "preprocessor_config.json"], fetched
    tower_rec = json.loads((tmp_path / "out" / "manifest.json").read_text())["vision_tower"]
    assert tower_rec["source"] == "download" and tower_rec["weights"].startswith("tower folder: ")
    assert "vision tower: someone/tiny-clip-336 (download)" in proc.stdout


def _safetensors_state(folder):
    from safetensors.torch import load_file

    return load_file(folder / "model.safetensors")


def test_repo_not_on_the_hub_exit_2(tmp_path):
    with FakeHub({}) as hub:
        proc = _convert(hub, tmp_path, "someone/not-there", "-o", str(tmp_path / "out"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "could not download someone/not-there" in " ".join(proc.stderr.split())
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("typo", ["./MobileVLM-1.7B", "MobileVLM-1.7B"])
def test_mistyped_path_never_reaches_the_hub(tmp_path, typo):
    with FakeHub({}) as hub:
        proc = _convert(hub, tmp_path, typo, "-o", str(tmp_path / "out"))
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    assert not [p for _, p in hub.requests if "MobileVLM" in p], hub.requests

"""Every bad input gives a typed error (CLI: one message, exit 2, no traceback) and leaves no output."""
from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from edgevlm.convert import convert
from edgevlm.errors import (InputNotFound, InvalidCheckpoint, OutputError, TensorMappingError,
                            UnsupportedModel)


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "ckpt"
    shutil.copytree(src, dst)
    return dst


def _relabel_projector(src: Path, projector_type: str) -> None:
    cfg = json.loads((src / "config.json").read_text())
    cfg["mm_projector_type"] = projector_type
    (src / "config.json").write_text(json.dumps(cfg))


def _assert_no_output(out: Path) -> None:
    assert not out.exists(), f"partial output left: {list(out.iterdir())}"  # OUT was created by the run


def test_missing_folder(tmp_path):
    with pytest.raises(InputNotFound, match="does not exist"):
        convert(tmp_path / "nope", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_no_config(tiny_v2_ckpt, tmp_path):
    src = _copy(tiny_v2_ckpt, tmp_path)
    (src / "config.json").unlink()
    with pytest.raises(InputNotFound, match="no config.json"):
        convert(src, tmp_path / "out")


def test_unknown_projector_type(tiny_v2_ckpt, tmp_path):
    src = _copy(tiny_v2_ckpt, tmp_path)
    _relabel_projector(src, "ldpnetv3")
    with pytest.raises(UnsupportedModel, match="ldpnetv3"):
        convert(src, tmp_path / "out")


def test_wrong_projector_type_lists_every_problem(tiny_v2_ckpt, tmp_path):
    """A v2 checkpoint labelled v1: every missing v1 tensor AND every unexpected v2 tensor, in one error."""
    src = _copy(tiny_v2_ckpt, tmp_path)
    _relabel_projector(src, "ldpnet")
    with pytest.raises(TensorMappingError) as err:
        convert(src, tmp_path / "out")
    msg = str(err.value)
    assert "24 missing" in msg and "6 unexpected" in msg
    assert "model.mm_projector.model.mb_block.2.block.2.1.bias" in msg  # the last missing one is listed too
    assert "model.mm_projector.peg.peg.0.weight" in msg
    _assert_no_output(tmp_path / "out")


def test_missing_extra_and_misshaped_tensors_all_listed(tiny_v1_ckpt, tmp_path):
    src = tmp_path / "ckpt"
    src.mkdir()
    for f in tiny_v1_ckpt.iterdir():
        if f.name != "pytorch_model.bin":
            shutil.copy(f, src / f.name)
    state = torch.load(tiny_v1_ckpt / "pytorch_model.bin", weights_only=True)
    del state["model.layers.0.mlp.up_proj.weight"], state["model.norm.weight"]
    state["model.extra_head.weight"] = torch.zeros(3)
    state["model.layers.1.self_attn.k_proj.weight"] = torch.zeros(32, 64)
    torch.save(state, src / "pytorch_model.bin")
    with pytest.raises(TensorMappingError) as err:
        convert(src, tmp_path / "out")
    msg = str(err.value)
    for needle in ("2 missing", "model.layers.0.mlp.up_proj.weight", "model.norm.weight",
                   "1 unexpected", "model.extra_head.weight",
                   "1 misshaped", "model.layers.1.self_attn.k_proj.weight: (32, 64), expected (64, 64)"):
        assert needle in msg
    _assert_no_output(tmp_path / "out")


@pytest.mark.parametrize("fmt,weights", [("bin", "pytorch_model.bin"), ("safetensors", "model.safetensors")])
def test_truncated_weights(synth_ckpt, tmp_path, fmt, weights):
    src = _copy(synth_ckpt("tiny-v2", fmt), tmp_path)
    data = (src / weights).read_bytes()
    (src / weights).write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidCheckpoint, match="truncated"):
        convert(src, tmp_path / "out")
    _assert_no_output(tmp_path / "out")


def test_corrupt_safetensors_header(synth_ckpt, tmp_path):
    src = _copy(synth_ckpt("tiny-v2", "safetensors"), tmp_path)
    data = bytearray((src / "model.safetensors").read_bytes())
    data[8:16] = b"\xff" * 8  # garbage in the JSON header
    (src / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(InvalidCheckpoint, match="corrupt safetensors header"):
        convert(src, tmp_path / "out")


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/edgevlm-pwned",))


def test_pickle_that_runs_code_is_refused(tiny_v2_ckpt, tmp_path):
    src = _copy(tiny_v2_ckpt, tmp_path)
    state = torch.load(src / "pytorch_model.bin", weights_only=True)
    state["model.norm.weight"] = _Evil()
    torch.save(state, src / "pytorch_model.bin")
    marker = Path("/tmp/edgevlm-pwned")
    marker.unlink(missing_ok=True)
    with pytest.raises(InvalidCheckpoint, match="would run code"):
        convert(src, tmp_path / "out")
    assert not marker.exists(), "the pickle's payload ran"


def test_missing_shard(synth_ckpt, tmp_path):
    src = _copy(synth_ckpt("tiny-v1", "sharded"), tmp_path)
    shard = sorted(src.glob("pytorch_model-*.bin"))[-1]
    shard.unlink()
    with pytest.raises(InvalidCheckpoint, match=f"missing: {shard.name}"):
        convert(src, tmp_path / "out")


def test_unwritable_output(tiny_v2_ckpt, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")  # a path below a regular file cannot be created, even by root
    with pytest.raises(OutputError, match="cannot write"):
        convert(tiny_v2_ckpt, blocker / "out")


def test_output_inside_input_folder_is_refused(tiny_v2_ckpt, tmp_path):
    src = _copy(tiny_v2_ckpt, tmp_path)
    with pytest.raises(OutputError, match="inside the input checkpoint"):
        convert(src, src / "gguf")
    assert not (src / "gguf").exists()


def test_disk_full_injected_at_the_writer(tiny_v2_ckpt, tmp_path, monkeypatch):
    """ENOSPC in the middle of the mmproj (after the LLM is complete): nothing at all may remain."""
    import edgevlm.ggufio.stream as stream

    real = stream.GGUFWriter.write_tensor_data
    calls = {"n": 0}

    def failing(self, tensor, *a, **k):
        calls["n"] += 1
        if calls["n"] == 40:  # the LLM has 21 tensors: this is inside the mmproj
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, tensor, *a, **k)

    monkeypatch.setattr(stream.GGUFWriter, "write_tensor_data", failing)
    with pytest.raises(OutputError, match="disk is full"):
        convert(tiny_v2_ckpt, tmp_path / "out", quant="f16")
    _assert_no_output(tmp_path / "out")


@pytest.fixture
def tiny_tmpfs(tmpfs):
    return tmpfs("600k")  # skipped without root; the injected ENOSPC test covers the logic


def test_short_disk_refused_before_writing(tiny_v2_ckpt, tiny_tmpfs):
    """The free-space check stops the run before a byte is written, naming what it needs."""
    with pytest.raises(OutputError, match="not enough free disk space .* needs about .* MB, .* MB free"):
        convert(tiny_v2_ckpt, tiny_tmpfs / "out", quant="f32")
    _assert_no_output(tiny_tmpfs / "out")


def test_disk_full_on_a_real_tiny_tmpfs(tiny_v2_ckpt, tiny_tmpfs, monkeypatch):
    """The disk fills while writing (the estimate said yes: simulated by skipping it): nothing remains."""
    import edgevlm.convert as convert_mod

    monkeypatch.setattr(convert_mod, "check_free_space", lambda *a: None)
    with pytest.raises(OutputError, match="disk is full"):
        convert(tiny_v2_ckpt, tiny_tmpfs / "out", quant="f32")
    _assert_no_output(tiny_tmpfs / "out")


@pytest.mark.parametrize("args,needle", [
    (["--quant", "q3_k"], "--quant 'q3_k' is not supported"),
    (["--mmproj-quant", "q4_0"], "--mmproj-quant 'q4_0' is not supported"),
])
def test_cli_bad_option_exit_2_no_traceback(tiny_v2_ckpt, tmp_path, args, needle):
    proc = subprocess.run([sys.executable, "-m", "edgevlm", "convert", str(tiny_v2_ckpt), "-o", str(tmp_path / "o"),
                           *args], capture_output=True, text=True)
    assert proc.returncode == 2
    assert needle in " ".join(proc.stderr.split()) and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_cli_bad_checkpoint_exit_2_no_traceback(tmp_path):
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "config.json").write_text("{not json")
    proc = subprocess.run([sys.executable, "-m", "edgevlm", "convert", str(tmp_path / "ckpt"), "-o",
                           str(tmp_path / "o")], capture_output=True, text=True)
    assert proc.returncode == 2 and "not valid JSON" in proc.stderr and "Traceback" not in proc.stderr


def test_repo_id_offline_not_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache: nothing to find, nothing downloaded
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputNotFound, match="HF_HUB_OFFLINE"):
        convert("edgevlm-test/not-a-model", tmp_path / "out")

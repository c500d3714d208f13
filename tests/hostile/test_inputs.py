"""No traceback, no abort (issue 18, item 10): each hostile input below exits 2 with one line (and its hint),
never a traceback (exit 1) or a GGML_ASSERT (abort, exit 134). Checkpoint files, output paths, crafted GGUFs
(real files from `edgevlm convert`, one header entry rewritten in place) for the mmproj loader and llama.cpp."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile.gguf_craft import tensor_dims, with_dims

EDGEVLM = [sys.executable, "-m", "edgevlm"]


def _exits_2_in_one_line(argv: list[str], timeout: float = 300) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    err = proc.stderr
    assert proc.returncode == 2, f"exit {proc.returncode}: {err[-2000:]}"
    assert "Traceback" not in err and "GGML_ASSERT" not in err, err[-2000:]
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err[-2000:]  # one error line (a hint line may follow)
    return err


def _variant(base: Path, tmp_path: Path, name: str) -> Path:
    d = tmp_path / name
    shutil.copytree(base, d)
    return d


def _sharded(d: Path, weight_map: dict) -> None:
    (d / "model.safetensors").rename(d / "model-00001-of-00001.safetensors")
    (d / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))


def _config(d: Path, **changes) -> None:
    c = json.loads((d / "config.json").read_text())
    c.update(changes)
    (d / "config.json").write_text(json.dumps(c))


CHECKPOINTS = {
    # name: (how the folder is spoiled, what the one line must say)
    "shard-index-int": (lambda d: _sharded(d, {"lm_head.weight": 5}), "not a shard file name"),
    "shard-index-list": (lambda d: _sharded(d, {"lm_head.weight": ["x"]}), "not a shard file name"),
    "shard-index-escapes": (lambda d: _sharded(d, {"lm_head.weight": "../x.safetensors"}), "not a shard file name"),
    "tokenizer-config-binary": (lambda d: (d / "tokenizer_config.json").write_bytes(bytes(range(256)) * 3),
                                "tokenizer_config.json is not readable JSON"),
    "tokenizer-config-list": (lambda d: (d / "tokenizer_config.json").write_text("[1, 2, 3]"),
                              "tokenizer_config.json holds a JSON list"),
    "tokenizer-config-flag": (lambda d: (d / "tokenizer_config.json").write_text('{"add_bos_token": [1]}'),
                              "add_bos_token must be true or false"),
    "layers-10e12": (lambda d: _config(d, num_hidden_layers=10**12), "the weights hold 2 decoder layer(s)"),
}


@pytest.mark.parametrize("case", sorted(CHECKPOINTS))
def test_hostile_checkpoint_exits_2(synth_ckpt, tmp_path, case):
    spoil, needle = CHECKPOINTS[case]
    d = _variant(synth_ckpt("tiny-v2", fmt="safetensors"), tmp_path, case)
    spoil(d)
    # layers-10e12: main grew at 130 MB/s until killed; the timeout turns that into a failure, not a hang
    err = _exits_2_in_one_line([*EDGEVLM, "convert", str(d), "-o", str(tmp_path / "out"), "--quant", "f16"],
                               timeout=180)
    assert needle in " ".join(err.split())
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").glob("*.gguf"))


def test_empty_pytorch_model_bin_exits_2(synth_ckpt, tmp_path):
    """A regression of main: the exception's empty text made the message formatting raise IndexError."""
    d = _variant(synth_ckpt("tiny-v2", fmt="bin"), tmp_path, "empty-bin")
    (d / "pytorch_model.bin").write_bytes(b"")
    err = _exits_2_in_one_line([*EDGEVLM, "convert", str(d), "-o", str(tmp_path / "out")])
    assert "pytorch_model.bin is truncated or corrupt" in err


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, synth_ckpt):
    from edgevlm.convert import convert

    out = tmp_path_factory.mktemp("hostile-model") / "m"
    convert(synth_ckpt("tiny-v2"), out, quant="f16", mmproj_quant="f16")
    return out


@pytest.mark.parametrize("argv", [
    ["verify", "{model}", "--checkpoint", "{ckpt}", "--json", "/dev/null/x.json"],
    ["encode-image", "{model}", "--image", "{image}", "--out", "/dev/null/x.npy"],
    ["demo", "--out", "/dev/null/x"],
    ["demo", "-o", "/dev/null/x"],
], ids=["verify-json", "encode-image-out", "demo-out", "demo-o"])
def test_output_under_dev_null_exits_2_before_work(model_dir, synth_ckpt, test_image, argv):
    argv = [a.format(model=model_dir, ckpt=synth_ckpt("tiny-v2"), image=test_image) for a in argv]
    err = _exits_2_in_one_line([*EDGEVLM, *argv])
    assert "/dev/null" in err


# (tensor, dims as the file will claim them): same byte size as the real ones, so only the header lies
MMPROJ_CRAFTS = {
    "patch-embd-permuted": ("v.patch_embd.weight", lambda d: [d[0], d[1], d[3], d[2]]),
    "position-embd-transposed": ("v.position_embd.weight", lambda d: d[::-1]),
    "ffn-up-transposed": ("v.blk.0.ffn_up.weight", lambda d: d[::-1]),
    "projector-input-transposed": ("mm.model.mlp.0.weight", lambda d: [d[1] // 2, d[0] * 2]),
}


@pytest.fixture
def crafted(model_dir, tmp_path):
    def make(tensor: str, dims_of) -> Path:
        out = tmp_path / "crafted"
        shutil.copytree(model_dir, out)
        target = next(p for p in out.glob("*.gguf") if p.name.startswith("mmproj-") == tensor.startswith(("v.", "mm.")))
        with_dims(target, target, tensor, dims_of(tensor_dims(target, tensor)))
        return out
    return make


@pytest.mark.native
@pytest.mark.parametrize("case", sorted(MMPROJ_CRAFTS))
def test_crafted_mmproj_is_an_error_not_an_abort(native_bin, crafted, test_image, case):
    tensor, dims_of = MMPROJ_CRAFTS[case]
    folder = crafted(tensor, dims_of)
    err = _exits_2_in_one_line([*EDGEVLM, "encode-image", str(folder), "--image", str(test_image),
                                "--out", str(folder / "e.npy")])
    assert tensor in err  # main: GGML_ASSERT(a->ne[2] == b->ne[2]), exit 134, for the permuted patch embedding
    llm = next(p for p in folder.glob("*.gguf") if not p.name.startswith("mmproj-"))
    mmproj = next(folder.glob("mmproj-*.gguf"))
    proc = subprocess.run([str(native_bin / "edgevlm-run"), "-m", str(llm), "--mmproj", str(mmproj), "--image",
                           str(test_image), "-p", "hi", "-n", "2"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and tensor in proc.stderr and "GGML_ASSERT" not in proc.stderr, proc.stderr[-2000:]


@pytest.mark.native
def test_crafted_llm_is_refused_by_llama_cpp_before_a_graph(native_bin, crafted, test_image):
    folder = crafted("token_embd.weight", lambda d: d[::-1])
    llm = next(p for p in folder.glob("*.gguf") if not p.name.startswith("mmproj-"))
    mmproj = next(folder.glob("mmproj-*.gguf"))
    proc = subprocess.run([str(native_bin / "edgevlm-run"), "-m", str(llm), "--mmproj", str(mmproj), "--image",
                           str(test_image), "-p", "hi", "-n", "2"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "cannot load model" in proc.stderr, proc.stderr[-2000:]
    assert "GGML_ASSERT" not in proc.stderr and "token_embd.weight" in proc.stderr  # llama.cpp names it


# Projector tensors that lie about their shape at the same byte size (issue 18 item 10: checked against the
# header and each other in kernels/vision/mmproj_check.cpp). Before, the ggml projector aborted on each of the
# matrix ones (GGML_ASSERT in ggml_mul_mat / ggml_add, exit 134) and the LDP kernel ran on with them, reading
# past the 16-float SE bias when the SE matrix was transposed; a kernel's permutation went unnoticed by both.
PROJECTOR_CRAFTS = {
    # name: (preset, tensor, dims as the file will claim them)
    "v2-mlp2-reshaped": ("tiny-v2", "mm.model.mlp.2.weight", lambda d: [d[0] // 2, d[1] * 2]),
    "v2-peg-permuted": ("tiny-v2", "mm.model.peg.0.weight", lambda d: [d[0], d[2], d[1]]),
    "v1-mlp3-reshaped": ("tiny-v1", "mm.model.mlp.3.weight", lambda d: [d[0] * 2, d[1] // 2]),
    "v1-se-fc1-transposed": ("tiny-v1", "mm.model.mb_block.1.block.1.fc1.weight", lambda d: d[::-1]),
    "v1-se-fc2-transposed": ("tiny-v1", "mm.model.mb_block.2.block.1.fc2.weight", lambda d: d[::-1]),
    "v1-pointwise-reshaped": ("tiny-v1", "mm.model.mb_block.2.block.2.0.weight", lambda d: [d[0] // 2, d[1] * 2]),
    "v1-dw-kernel-permuted": ("tiny-v1", "mm.model.mb_block.1.block.0.0.weight", lambda d: d[::-1]),
}


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory, synth_ckpt):
    """model_dirs(preset) -> an f16 conversion of the tiny preset (one per module)."""
    from edgevlm.convert import convert

    made = {}

    def get(preset: str) -> Path:
        if preset not in made:
            made[preset] = tmp_path_factory.mktemp(f"hostile-{preset}") / "m"
            convert(synth_ckpt(preset), made[preset], quant="f16", mmproj_quant="f16")
        return made[preset]
    return get


@pytest.mark.native
@pytest.mark.parametrize("case", sorted(PROJECTOR_CRAFTS))
def test_crafted_projector_tensor_is_an_error_not_an_abort(native_bin, model_dirs, tmp_path, test_image, case):
    preset, tensor, dims_of = PROJECTOR_CRAFTS[case]
    folder = tmp_path / "crafted"
    shutil.copytree(model_dirs(preset), folder)
    mmproj = next(folder.glob("mmproj-*.gguf"))
    with_dims(mmproj, mmproj, tensor, dims_of(tensor_dims(mmproj, tensor)))
    err = _exits_2_in_one_line([*EDGEVLM, "encode-image", str(folder), "--image", str(test_image),
                                "--out", str(folder / "e.npy")])
    assert tensor in err and "the projector needs" in err
    llm = next(p for p in folder.glob("*.gguf") if not p.name.startswith("mmproj-"))
    for projector in ("kernel", "ggml"):             # both projector implementations load through the check
        proc = subprocess.run([str(native_bin / "edgevlm-run"), "-m", str(llm), "--mmproj", str(mmproj), "--image",
                               str(test_image), "-p", "hi", "-n", "2", "--projector", projector],
                              capture_output=True, text=True, errors="replace", timeout=300)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and tensor in lines[0], (projector, proc.stderr[-2000:])

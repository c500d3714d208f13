"""Fixtures for the arm64 cost model: the android-arm64 bundle, the host-built plugin, a tiny model."""
from __future__ import annotations

import shutil

import pytest

from edgevlm.paths import host_bin_dir
from tests.devices.conftest import missing_build


@pytest.fixture(scope="module")
def cost_tools():
    """(edgevlm-run, llama-mtmd-cli) of the android-arm64 bundle, once the plugin and qemu-user are there."""
    from edgevlm.armcost.qemu import PLUGIN, QEMU
    from edgevlm.toolchain.bundle import load_bundle

    if not (host_bin_dir() / PLUGIN).is_file():
        missing_build(f"{host_bin_dir() / PLUGIN} not built: run `make native`")
    if not shutil.which(QEMU):
        missing_build(f"{QEMU} (Debian qemu-user) not installed: run `make sysdeps`")
    bundle = load_bundle("android-arm64")
    if bundle is None or not bundle.has("edgevlm-run") or not bundle.has("llama-mtmd-cli"):
        missing_build("android-arm64 bundle not built: run `edgevlm build --target android-arm64`")
    return bundle.path / "edgevlm-run", bundle.path / "llama-mtmd-cli"


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory, synth_ckpt, test_image):
    """A folder holding model.gguf (tiny LLM, q8_0: ggml's sdot kernels), mmproj.gguf (f16), image.png."""
    from edgevlm.convert import convert

    out = tmp_path_factory.mktemp("arm-cost")
    result = convert(synth_ckpt("tiny-v2", "bin"), out / "model", quant="q8_0", mmproj_quant="f16", name="tiny")
    run = out / "run"
    run.mkdir()
    (run / "model.gguf").symlink_to(result.llm)
    (run / "mmproj.gguf").symlink_to(result.mmproj)
    (run / "image.png").symlink_to(test_image)
    return run

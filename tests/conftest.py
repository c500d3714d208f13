"""Shared fixtures: tiny synthetic MobileVLM checkpoints and a non-square test image.

* ``synth_ckpt(preset="tiny-v1", fmt="bin", seed=0, llm_only=False) -> Path`` — session-cached factory.
* ``tiny_v1_ckpt``, ``tiny_v2_ckpt``, ``tiny_llm_only_ckpt`` — format bin, seed 0 (read-only: do not write
  into them; copy first).
* ``converted(preset, mmproj_quant="f32")``, ``reference(preset)`` — tiny conversions (LLM f32) and their
  PyTorch references, cached (used by the native vision and runtime tests).
* ``test_image`` — Path of a generated 250×410 (W×H) RGB PNG with gradients and shapes, so padding to square
  and the resize are both exercised.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests never download (no hub is reachable in CI): every Hugging Face look-up is cache-only, in this process
# and in the CLI subprocesses the tests start.
os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(scope="session")
def synth_ckpt(tmp_path_factory):
    made: dict[tuple, Path] = {}

    def make(preset: str = "tiny-v1", fmt: str = "bin", seed: int = 0, llm_only: bool = False) -> Path:
        from edgevlm.checkpoint.synth import synthesize

        key = (preset, fmt, seed, llm_only)
        if key not in made:
            name = f"{preset}-{fmt}-s{seed}{'-llm' if llm_only else ''}"
            made[key] = synthesize(preset, tmp_path_factory.mktemp("ckpt") / name, fmt, seed, llm_only)
        return made[key]

    return make


@pytest.fixture(scope="session")
def tiny_v1_ckpt(synth_ckpt) -> Path:
    return synth_ckpt("tiny-v1", "bin")


@pytest.fixture(scope="session")
def tiny_v2_ckpt(synth_ckpt) -> Path:
    return synth_ckpt("tiny-v2", "bin")


@pytest.fixture(scope="session")
def tiny_llm_only_ckpt(synth_ckpt) -> Path:
    return synth_ckpt("tiny-v1", "bin", llm_only=True)


def make_test_image(width: int = 250, height: int = 410):
    """A deterministic non-square image: colour gradients, a disc, a rectangle, stripes."""
    import numpy as np
    from PIL import Image, ImageDraw

    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack([255 * x / (width - 1), 255 * y / (height - 1), 127 + 127 * np.sin(x / 9 + y / 13)], -1)
    img = Image.fromarray(rgb.clip(0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    draw.ellipse((30, 60, 160, 190), fill=(240, 30, 40))
    draw.rectangle((120, 250, 230, 390), fill=(20, 40, 220), outline=(255, 255, 0), width=5)
    for k in range(0, width, 24):
        draw.line((k, 0, k + 60, height), fill=(255, 255, 255), width=2)
    return img


@pytest.fixture(scope="session")
def test_image(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("images") / "test-250x410.png"
    make_test_image().save(path)
    return path


@pytest.fixture(scope="session")
def converted(tmp_path_factory, synth_ckpt):
    """converted(preset, mmproj_quant="f32") -> folder written by `edgevlm convert` (LLM f32)."""
    from tests.runtime.models import make_converter

    return make_converter(tmp_path_factory, synth_ckpt)


@pytest.fixture(scope="session")
def reference(synth_ckpt):
    """reference(preset) -> MobileVLMReference of the tiny checkpoint (f32), cached."""
    from tests.runtime.models import make_reference

    return make_reference(synth_ckpt)


@pytest.fixture
def tmpfs(tmp_path):
    """tmpfs(size) -> a fresh tmpfs mount of that size (e.g. "600k") under tmp_path, unmounted after the test;
    skips where mounting needs root and this is not root (a real full or read-only disk needs a real mount)."""
    import gc
    import subprocess

    mounts = []

    def mount(size: str, name: str = "tiny-fs") -> Path:
        mnt = tmp_path / name
        mnt.mkdir()
        if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
                          capture_output=True).returncode != 0:
            pytest.skip("cannot mount a tmpfs here (needs root)")
        mounts.append(mnt)
        return mnt

    yield mount
    gc.collect()  # a file an in-process command left to the garbage collector would keep the mount busy
    for mnt in mounts:
        subprocess.run(["umount", "-l", str(mnt)], check=True)

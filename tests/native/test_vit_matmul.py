"""The ViT's linear layers on edgevlm's GEMMs (kernels/vision/cpu_linear.cpp) against ggml's own mul_mat.

EDGEVLM_VIT_MATMUL=ggml (read when the encoder loads) keeps ggml's mul_mat, so both paths run on the same file;
an unknown value is refused (typed error in Python, a failed load in the C ABI).
The tiny ViT's 64/256 widths are whole panels and 32-blocks, so edgevlm's path must take every matrix.
Tolerance, min per-token cosine of the 576 features between the two paths:
* f32: both f32 arithmetic; summation order only (measured 1 - 3e-14): >= 0.999999.
* f16: the same f16 weights; ggml rounds the activations to f16 before its dot products, edgevlm keeps them
  f32 (2^-11 relative per element on ggml's side; measured 1 - 2e-8): >= 0.99999.
* q8_0: both quantize the activations to int8 per 32-block against the same int8 weights; ggml rounds each
  block scale to f16, edgevlm keeps it f32 (measured 0.99999): >= 0.9999.
The paths must not be bit-identical (the f32 path included: its summation order differs) — that would mean
edgevlm's path did not run. Each GEMM is checked against double references in ctest.
"""
from __future__ import annotations

import pytest

from tests.runtime.models import per_token_cosine

pytestmark = pytest.mark.native

EXPECTED_IMPL = {"f32": "f32-gemm/", "f16": "f32-gemm/", "q8_0": "int8-gemm/"}
COSINE_MIN = {"f32": 0.999999, "f16": 0.99999, "q8_0": 0.9999}


def _features(folder, pixels):
    from edgevlm.native.vision import VisionEncoder
    from edgevlm.artifact import require_mmproj

    with VisionEncoder(require_mmproj(folder), 2) as enc:
        return enc.vit_matmul, enc.features(pixels)


@pytest.mark.parametrize("quant", ["f32", "f16", "q8_0"])
def test_edgevlm_gemm_agrees_with_ggml(native_bin, converted, reference, test_image, monkeypatch, quant):
    folder = converted("tiny-v2", quant)
    pixels = reference("tiny-v2").preprocess(test_image).numpy()
    impl, ours = _features(folder, pixels)
    monkeypatch.setenv("EDGEVLM_VIT_MATMUL", "ggml")
    ggml_impl, ggml = _features(folder, pixels)
    assert impl.startswith(EXPECTED_IMPL[quant]) and ggml_impl == "ggml", (impl, ggml_impl)
    assert ours.shape == ggml.shape == (576, 64)
    assert (ours != ggml).any(), "identical output: edgevlm's GEMM did not run"
    cos = per_token_cosine(ours, ggml)
    assert cos.min() >= COSINE_MIN[quant], f"min per-token cosine {cos.min():.7f} ({quant})"



def test_explicit_edgevlm_is_the_default(native_bin, converted, reference, test_image, monkeypatch):
    monkeypatch.setenv("EDGEVLM_VIT_MATMUL", "edgevlm")
    impl, _ = _features(converted("tiny-v2", "q8_0"), reference("tiny-v2").preprocess(test_image).numpy())
    assert impl.startswith("int8-gemm/")


def test_unknown_vit_matmul_is_a_typed_error(native_bin, converted, monkeypatch):
    from edgevlm.errors import SwitchError
    from edgevlm.native.vision import VisionEncoder
    from edgevlm.artifact import require_mmproj

    monkeypatch.setenv("EDGEVLM_VIT_MATMUL", "ggm")
    with pytest.raises(SwitchError, match="EDGEVLM_VIT_MATMUL='ggm' is not a ViT matmul path"):
        VisionEncoder(require_mmproj(converted("tiny-v2")), 2)


def test_library_refuses_an_unknown_vit_matmul(native_bin, converted, monkeypatch):
    """The C ABI checks the variable too (edgevlm-run has no Python in front of it)."""
    import ctypes

    from edgevlm.native._lib import load_library
    from edgevlm.artifact import require_mmproj

    lib = load_library()
    lib.edgevlm_vision_load.restype = ctypes.c_void_p
    lib.edgevlm_vision_load.argtypes = [ctypes.c_char_p, ctypes.c_int]
    monkeypatch.setenv("EDGEVLM_VIT_MATMUL", "GGML")  # exact match only: case matters
    assert lib.edgevlm_vision_load(str(require_mmproj(converted("tiny-v2"))).encode(), 1) is None
    assert "EDGEVLM_VIT_MATMUL=GGML is not a ViT matmul path" in lib.edgevlm_last_error().decode()

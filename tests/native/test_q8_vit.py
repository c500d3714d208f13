"""The ViT's Q8_0 linear layers on edgevlm's int8 GEMM (kernels/q8) against ggml's own Q8_0 mul_mat.

EDGEVLM_Q8_GEMM=0 (read when the encoder loads) keeps ggml's mul_mat, so the two paths run on the same file.
Both quantize the activations to int8 per 32-block and multiply the same int8 weights; they differ only in
rounding details (ggml rounds each activation scale to f16, the GEMM keeps it f32) and summation order:
per-token cosine >= 0.9999 between them. They must not be bit-identical — that would mean the int8 path did
not run (the tiny ViT's 64/256 widths are whole 16-column panels and 32-blocks, so it must).
The kernel itself is checked against double references in ctest (kernels/tests/test_q8_gemm.cpp).
"""
from __future__ import annotations

import pytest

from tests.runtime.models import per_token_cosine

pytestmark = pytest.mark.native


def _features(folder, pixels):
    from edgevlm.native.vision import VisionEncoder
    from edgevlm.runtime.model_dir import require_mmproj

    with VisionEncoder(require_mmproj(folder), 2) as enc:
        return enc.vit_matmul, enc.features(pixels)


def test_int8_gemm_agrees_with_ggml_q8_0(native_bin, converted, reference, test_image, monkeypatch):
    folder = converted("tiny-v2", "q8_0")
    pixels = reference("tiny-v2").preprocess(test_image).numpy()
    impl, ours = _features(folder, pixels)
    monkeypatch.setenv("EDGEVLM_Q8_GEMM", "0")
    ggml_impl, ggml = _features(folder, pixels)
    assert impl.startswith("int8-gemm/") and ggml_impl == "ggml", (impl, ggml_impl)
    assert ours.shape == ggml.shape == (576, 64)
    assert (ours != ggml).any(), "identical output: the int8 GEMM path did not run"
    cos = per_token_cosine(ours, ggml)
    assert cos.min() >= 0.9999, f"min per-token cosine {cos.min():.6f}"

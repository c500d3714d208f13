"""Preprocessing: MobileVLM pads to square then resizes; stock llama.cpp resizes then pads."""
from __future__ import annotations

import numpy as np
from PIL import Image

from edgevlm.checkpoint.config import CLIP_MEAN, CLIP_STD
from edgevlm.reference.preprocess import PAD_COLOR, preprocess


def _pad_value():
    return (np.array(PAD_COLOR) / 255.0 - np.array(CLIP_MEAN)) / np.array(CLIP_STD)


def _is_pad_column(x, col):
    return np.allclose(x[:, :, col].numpy().T, _pad_value(), atol=1e-5)


def test_pad_color_is_clip_mean():
    assert PAD_COLOR == (122, 116, 104)


def test_mobilevlm_order(test_image):
    img = Image.open(test_image)
    assert img.size == (250, 410)
    x = preprocess(test_image)
    assert x.shape == (3, 336, 336) and str(x.dtype) == "torch.float32"
    # 250 wide on a 410 square: pasted at x = 80..329 → 65.6..270.4 after scaling by 336/410
    assert _is_pad_column(x, 0) and _is_pad_column(x, 62) and not _is_pad_column(x, 70)
    assert _is_pad_column(x, 335) and _is_pad_column(x, 273) and not _is_pad_column(x, 265)
    # independent recomputation of the top-left image pixel region: PIL pad, PIL bicubic, normalize
    square = Image.new("RGB", (410, 410), (122, 116, 104))
    square.paste(img.convert("RGB"), (80, 0))
    ref = (np.asarray(square.resize((336, 336), Image.Resampling.BICUBIC), np.float64) / 255 - CLIP_MEAN) / CLIP_STD
    np.testing.assert_allclose(x.numpy().transpose(1, 2, 0), ref, atol=1e-5)


def test_stock_order(test_image):
    x = preprocess(test_image, stock=True)
    # stock: resize to ceil(250·336/410) = 205 wide, pasted at (336 - 205) // 2 = 65 → columns 65..269
    assert _is_pad_column(x, 64) and not _is_pad_column(x, 65)
    assert not _is_pad_column(x, 269) and _is_pad_column(x, 270)
    ours = preprocess(test_image)
    differ = (np.abs(x.numpy() - ours.numpy()) > 1e-6).any(0).mean()
    assert 0.1 < differ < 0.9  # REFERENCE.md: about 38 % of pixels differ on a 250×410 image


def test_square_input_is_only_resized(tmp_path):
    img = Image.new("RGB", (336, 336), (10, 200, 30))
    a, b = preprocess(img), preprocess(img, stock=True)
    assert np.array_equal(a.numpy(), b.numpy())

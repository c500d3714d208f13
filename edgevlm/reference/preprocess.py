"""Image preprocessing: MobileVLM's (pad to square, then resize) and stock llama.cpp's (resize, then pad).

MobileVLM (``image_aspect_ratio: pad``): ``expand2square`` pastes the image centred on a square of the CLIP
mean colour ``tuple(int(m * 255))`` = rgb(122, 116, 104), then transformers' (4.3x, PIL path)
CLIPImageProcessor resizes the shortest edge to 336 with PIL bicubic, centre-crops 336 (a no-op on a square),
rescales by 1/255 and normalizes with the CLIP mean/std.

Stock llama.cpp (tools/mtmd, fixed-size preprocessor for LDP/LDPv2 without pinpoints): ``img_tool::resize``
with PAD_CEIL — scale = min(336/w, 336/h) in float32, the image is resized (Pillow's bicubic, re-implemented
bit-exactly in mtmd-image.cpp) to ceil(w·scale) × ceil(h·scale) (clamped to 336), then composited at
((336-w')/2, (336-h')/2) onto rgb(122, 116, 104); then /255 and the same normalization.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from edgevlm.checkpoint.config import CLIP_MEAN, CLIP_STD
from edgevlm.images import load_rgb

PAD_COLOR = tuple(int(m * 255) for m in CLIP_MEAN)  # (122, 116, 104), as MobileVLM computes it


def _as_rgb(img):
    if isinstance(img, (str, Path)):
        return load_rgb(Path(img))
    return img.convert("RGB")


def expand2square(img, color=PAD_COLOR):
    """MobileVLM's expand2square: the image centred (integer offset) on a square of `color`."""
    from PIL import Image  # lazy: Pillow, images only

    w, h = img.size
    if w == h:
        return img
    side = max(w, h)
    out = Image.new(img.mode, (side, side), color)
    out.paste(img, ((side - w) // 2, (side - h) // 2))
    return out


def stock_resize_pad(img, size: int = 336, color=PAD_COLOR):
    """llama.cpp's img_tool::resize(..., RESIZE_ALGO_BICUBIC, PAD_CEIL, pad colour): resize first, then pad."""
    from PIL import Image  # lazy: Pillow, images only

    w, h = img.size
    if (w, h) == (size, size):
        return img
    f32 = np.float32
    scale = min(f32(size) / f32(w), f32(size) / f32(h))  # float32 arithmetic, as in the C++
    new_w = min(int(math.ceil(f32(w) * scale)), size)
    new_h = min(int(math.ceil(f32(h) * scale)), size)
    resized = img.resize((new_w, new_h), Image.Resampling.BICUBIC)
    out = Image.new("RGB", (size, size), color)
    out.paste(resized, ((size - new_w) // 2, (size - new_h) // 2))
    return out


def normalize(img, mean=CLIP_MEAN, std=CLIP_STD):
    """uint8 RGB → float32 (3, H, W): x/255, then (x - mean) / std per channel."""
    import torch  # lazy: torch, heavy, optional

    x = np.asarray(img, dtype=np.float32) / np.float32(255.0)
    x = (x - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))


def preprocess(img, size: int = 336, stock: bool = False, mean=CLIP_MEAN, std=CLIP_STD):
    """A PIL image or image path → float32 tensor (3, size, size) ready for the CLIP tower."""
    from PIL import Image  # lazy: Pillow, images only

    img = _as_rgb(img)
    if stock:
        square = stock_resize_pad(img, size)
    else:
        square = expand2square(img)
        if square.size != (size, size):
            square = square.resize((size, size), Image.Resampling.BICUBIC)
    return normalize(square, mean, std)

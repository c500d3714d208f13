"""Generated test images: deterministic, non-square, with edges and gradients (exercises pad + resize)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from edgevlm.errors import ImageError


def make_demo_image(path: Path, width: int = 410, height: int = 250, seed: int = 0) -> Path:
    """Write a PNG with a gradient sky, a sun and some boxes; returns the path."""
    from PIL import Image, ImageDraw  # lazy: Pillow, images only

    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, height)[:, None]
    x = np.linspace(0, 1, width)[None, :]
    rgb = np.stack([90 + 120 * y + 0 * x, 140 + 80 * y + 0 * x, 230 - 60 * y + 20 * x], axis=-1)
    img = Image.fromarray(np.clip(rgb, 0, 255).astype("uint8"), "RGB")
    draw = ImageDraw.Draw(img)
    draw.ellipse((width * 0.7, height * 0.1, width * 0.85, height * 0.35), fill=(250, 220, 60))
    for _ in range(6):
        x0, y0 = rng.integers(0, width - 60), rng.integers(height // 2, height - 40)
        color = tuple(int(c) for c in rng.integers(0, 255, 3))
        draw.rectangle((x0, y0, x0 + rng.integers(20, 60), y0 + rng.integers(15, 40)), fill=color)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def load_rgb(path: Path):
    """Open an image as RGB, turning every failure into an ImageError that names the file."""
    from PIL import Image, UnidentifiedImageError  # lazy: Pillow, images only

    path = Path(path)
    if not path.is_file():
        raise ImageError(f"image {path} does not exist", hint="pass the path of a PNG/JPEG file")
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageError(f"{path} is not a readable image ({exc})", hint="pass a PNG or JPEG file") from None

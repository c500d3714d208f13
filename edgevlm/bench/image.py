"""The bench's default image: a deterministic 336x336 picture (what the ViT sees after MobileVLM's resize), so
the default workload is image + question without the user supplying a file. Encode time does not depend on
the pixels; the file is written once (temp name + rename) under the build folder."""
from __future__ import annotations

from pathlib import Path

from edgevlm.files import atomic_output
from edgevlm.paths import build_root

SIZE = 336


def default_image() -> Path:
    path = build_root() / "bench" / f"default-{SIZE}.png"
    if path.is_file():
        return path
    import numpy as np  # lazy: numpy, heavy for the CLI start
    from PIL import Image, ImageDraw  # lazy: Pillow, images only

    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    rgb = np.stack([255 * x / (SIZE - 1), 255 * y / (SIZE - 1), 127 + 127 * np.sin(x / 11 + y / 17)], -1)
    img = Image.fromarray(rgb.clip(0, 255).astype(np.uint8), "RGB")
    ImageDraw.Draw(img).ellipse((60, 60, 200, 200), fill=(230, 40, 40))
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        img.save(tmp, format="PNG")
    return path

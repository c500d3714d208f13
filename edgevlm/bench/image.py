"""The bench's default image: a deterministic 336x336 picture (what the ViT sees after MobileVLM's resize), so
the default workload is image + question without the user supplying a file. Encode time does not depend on
the pixels; the file is written once (temp name + rename) under the build folder."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from edgevlm.artifact import ModelFolder
from edgevlm.errors import ImageError
from edgevlm.files import atomic_output
from edgevlm.paths import build_root

SIZE = 336


def default_image() -> Path:
    path = build_root() / "bench" / f"default-{SIZE}.png"
    if path.is_file():
        return path
    from PIL import Image, ImageDraw  # lazy: Pillow, images only

    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    rgb = np.stack([255 * x / (SIZE - 1), 255 * y / (SIZE - 1), 127 + 127 * np.sin(x / 11 + y / 17)], -1)
    img = Image.fromarray(rgb.clip(0, 255).astype(np.uint8), "RGB")
    ImageDraw.Draw(img).ellipse((60, 60, 200, 200), fill=(230, 40, 40))
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        img.save(tmp, format="PNG")
    return path


def resolve_image(image: Path | None, no_image: bool, model: ModelFolder, model_dir: Path) -> Path | None:
    """The image of the workload: the user's, else the default picture; None with --no-image."""
    if no_image:
        return None
    if image is not None and not Path(image).is_file():
        raise ImageError(f"image {image} does not exist")
    if model.mmproj is None:
        raise ImageError(f"{model_dir} has no mmproj-*.gguf, so an image cannot be encoded",
                         hint="convert with the vision tower, or pass --no-image for a text-only run")
    return Path(image) if image is not None else default_image()

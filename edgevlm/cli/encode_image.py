"""`edgevlm encode-image`: the native vision encoder on one image → (144, W) float32 .npy."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import typer

from edgevlm.artifact import require_mmproj
from edgevlm.files import atomic_output, check_output_file
from edgevlm.native.vision import VisionEncoder


def register(app: typer.Typer) -> None:
    @app.command("encode-image")
    def encode_image(
        model_dir: Path = typer.Argument(..., help="A folder written by `edgevlm convert` (holds the mmproj)."),
        image: Path = typer.Option(..., "--image", help="PNG/JPEG to encode."),
        out: Path = typer.Option(..., "--out", help="Where to write the embeddings (.npy, float32 144×W)."),
        threads: int = typer.Option(0, "--threads", help="CPU threads (0: all)."),
    ) -> None:
        """Encode an image to 144 LLM-width embeddings with the native vision encoder."""
        check_output_file(out)
        with VisionEncoder(require_mmproj(model_dir), threads or None) as enc:
            emb = enc.encode(image)
            t = enc.last_timings
        with atomic_output(out) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, emb)
        typer.echo(f"wrote {out} {emb.shape[0]}x{emb.shape[1]} float32 "
                   f"(ViT {t['vit_ms']:.0f} ms, projector {t['projector_ms']:.1f} ms, {os.fspath(image)})")

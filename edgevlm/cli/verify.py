"""`edgevlm verify`: converted GGUF files vs the PyTorch reference; exit 1 when a check fails its tolerance."""
from __future__ import annotations

from pathlib import Path

import typer

from edgevlm.errors import VerificationFailed
from edgevlm.files import check_output_file
from edgevlm.progress import console
from edgevlm.verify import verify as run_verify


def register(app: typer.Typer) -> None:
    @app.command("verify")
    def verify(
        out_dir: Path = typer.Argument(..., help="Output folder of `edgevlm convert` (with manifest.json)."),
        checkpoint: str = typer.Option(..., "--checkpoint", help="The checkpoint the files were converted from."),
        image: Path = typer.Option(None, "--image", help="Image for the embedding checks (default: a generated one)."),
        json_path: Path = typer.Option(None, "--json", help="Also write the report as JSON to this file."),
        vision_tower: str = typer.Option(None, "--vision-tower", help="The CLIP tower's folder or repo id (default: "
                                         "what `edgevlm convert` recorded in manifest.json)."),
    ) -> None:
        """Verify converted GGUF files against the PyTorch reference (tokenizer, logits, image embeddings)."""
        if json_path is not None:
            check_output_file(json_path)  # before minutes of reference forward passes, not after
        report = run_verify(out_dir, checkpoint, image=image, progress=True, vision_tower=vision_tower)
        report.render(console)
        if json_path is not None:
            report.write_json(json_path)
        if not report.ok:
            names = ", ".join(c.name for c in report.failed())
            raise VerificationFailed(f"{len(report.failed())} check(s) outside tolerance: {names}")

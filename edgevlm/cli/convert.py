"""`edgevlm convert`: checkpoint → LLM GGUF (quantized by llama.cpp) + mmproj GGUF + manifest.json."""
from __future__ import annotations

from pathlib import Path

import typer

from edgevlm.cli import options as opt
from edgevlm.convert import convert as run_convert
from edgevlm.device.profiles import model_quants
from edgevlm.quants import LLM_QUANTS, MMPROJ_QUANTS


def register(app: typer.Typer) -> None:
    @app.command("convert")
    def convert(
        source: str = typer.Argument(..., help="Checkpoint folder, or a Hugging Face repo id (e.g. mtgv/MobileVLM_V2-1.7B)."),
        output: Path = typer.Option(..., "-o", "--output", help="Output folder (created; never the input folder)."),
        quant: str = typer.Option(None, "--quant", help=f"LLM: {' | '.join(LLM_QUANTS)} (default: the --device "
                                  "profile's, else q4_k_m)."),
        mmproj_quant: str = typer.Option(None, "--mmproj-quant", help=f"mmproj: {' | '.join(MMPROJ_QUANTS)} (default: "
                                         "the --device profile's, else f16). q8_0 is the fast one "
                                         "on CPUs with int8 dot products (arm64 dotprod, AVX512-VNNI)."),
        device: str = opt.device(),
        imatrix: Path = typer.Option(None, "--imatrix", help="Importance matrix (GGUF from llama-imatrix, or legacy .dat)."),
        name: str = typer.Option(None, "--name", help="Base name of the output files (default: the model's name)."),
        threads: int = typer.Option(0, "--threads", help="Quantization threads (0: all cores)."),
        vision_tower: str = typer.Option(None, "--vision-tower", help="The CLIP tower's folder or Hugging Face repo "
                                         "id, overriding config.json's `mm_vision_tower` (description and, when the "
                                         "checkpoint has none, weights)."),
    ) -> None:
        """Convert a MobileVLM / MobileLLaMA checkpoint to a quantized LLM GGUF + mmproj GGUF, in one step."""
        quants, note = model_quants(device, quant, mmproj_quant)   # the device's advice (devices/sd888.toml)
        if note:
            typer.echo(note)
        result = run_convert(source, output, **quants, imatrix=imatrix, name=name, progress=True, nthread=threads,
                             vision_tower=vision_tower)
        if result.vision_tower:
            typer.echo(result.vision_tower)
        for path in (result.llm, result.mmproj, result.manifest):
            if path is not None:
                typer.echo(f"wrote {path}")

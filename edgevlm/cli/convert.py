"""`edgevlm convert`: checkpoint → LLM GGUF (quantized by llama.cpp) + mmproj GGUF + manifest.json."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer

from edgevlm.cli import options as opt
from edgevlm.convert import convert as run_convert
from edgevlm.device.profiles import model_quants
from edgevlm.quants import LLM_QUANTS, MMPROJ_QUANTS


LOCAL = {
    "source": opt.Opt(str, ..., "Checkpoint folder, or a Hugging Face repo id (e.g. mtgv/MobileVLM_V2-1.7B)."),
    "output": opt.Opt(Path, ..., "Output folder (created; never the input folder).", ("-o", "--output")),
    "quant": opt.Opt(str, None, f"LLM: {' | '.join(LLM_QUANTS)} (default: the --device profile's, else q4_k_m).",
                     ("--quant",)),
    "mmproj_quant": opt.Opt(str, None, f"mmproj: {' | '.join(MMPROJ_QUANTS)} (default: the --device profile's, "
                            "else f16). q8_0 is the fast one on CPUs with int8 dot products (arm64 dotprod, "
                            "AVX512-VNNI).", ("--mmproj-quant",)),
    "imatrix": opt.Opt(Path, None, "Importance matrix (GGUF from llama-imatrix, or legacy .dat).", ("--imatrix",)),
    "name": opt.Opt(str, None, "Base name of the output files (default: the model's name).", ("--name",)),
    "threads": opt.Opt(int, 0, "Quantization threads (0: all cores).", ("--threads",)),
    "vision_tower": opt.Opt(str, None, "The CLIP tower's folder or Hugging Face repo id, overriding config.json's "
                            "`mm_vision_tower` (description and, when the checkpoint has none, weights).",
                            ("--vision-tower",)),
}


@dataclass(frozen=True)
class ConvertArgs:
    """`edgevlm convert`'s options, in --help order (declared in LOCAL, else in cli/options.py)."""
    source: str
    output: Path
    quant: str | None
    mmproj_quant: str | None
    device: str | None
    imatrix: Path | None
    name: str | None
    threads: int
    vision_tower: str | None


def register(app: typer.Typer) -> None:
    opt.command(app, "convert", ConvertArgs, LOCAL)(convert)


def convert(a: ConvertArgs) -> None:
    """Convert a MobileVLM / MobileLLaMA checkpoint to a quantized LLM GGUF + mmproj GGUF, in one step."""
    quants, note = model_quants(a.device, a.quant, a.mmproj_quant)   # the device's advice (devices/sd888.toml)
    if note:
        typer.echo(note)
    result = run_convert(a.source, a.output, **quants, imatrix=a.imatrix, name=a.name, progress=True,
                         nthread=a.threads, vision_tower=a.vision_tower)
    if result.vision_tower:
        typer.echo(result.vision_tower)
    for path in (result.llm, result.mmproj, result.manifest):
        if path is not None:
            typer.echo(f"wrote {path}")

"""`edgevlm synth`: write a random-weight MobileVLM checkpoint in the exact Hugging Face layout."""
from __future__ import annotations

from pathlib import Path

import typer

from edgevlm.checkpoint.presets import preset_names
from edgevlm.checkpoint.synth import synthesize


def register(app: typer.Typer) -> None:
    @app.command("synth")
    def synth(
        preset: str = typer.Argument(..., help=f"One of: {', '.join(preset_names())}."),
        output: Path = typer.Option(..., "-o", "--output", help="Checkpoint folder to create (must be empty)."),
        fmt: str = typer.Option(None, "--format", help="bin (pytorch_model.bin) | safetensors | sharded "
                                "(default: as the public checkpoint ships: sharded for 7B, bin otherwise)."),
        seed: int = typer.Option(0, "--seed", help="Random seed: same seed, same bytes."),
        llm_only: bool = typer.Option(False, "--llm-only", help="MobileLLaMA-style LlamaForCausalLM, no vision."),
        shard_size: str = typer.Option("2GB", "--shard-size", help="Largest shard for --format sharded."),
        dtype: str = typer.Option(None, "--dtype",
                                  help="float32 | bfloat16 | float16 (default: f32 tiny, bf16 real shapes)."),
        force: bool = typer.Option(False, "--force", help="Replace a non-empty output folder."),
    ) -> None:
        """Write a random-weight MobileVLM checkpoint (tiny presets for tests, real shapes for benchmarks)."""
        out = synthesize(preset, output, fmt, seed, llm_only, dtype=dtype, shard_size=shard_size, force=force)
        typer.echo(f"wrote {preset}{' (llm only)' if llm_only else ''} to {out}")

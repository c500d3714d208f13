"""`edgevlm synth`: a random-weight MobileVLM (or MobileLLaMA) checkpoint in the exact Hugging Face layout.

Weights are seeded per tensor (the seed and the tensor's name), so the bytes do not depend on the order or
format they are written in: bin, safetensors and sharded hold identical tensors. Tensors are generated and
written one at a time (peak memory ≈ the largest tensor, not the checkpoint). Output goes to a temporary
folder beside DIR, renamed into place only when complete.
"""
from __future__ import annotations

import hashlib
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator, Literal

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from edgevlm.checkpoint.config import MobileVLMConfig
from edgevlm.checkpoint.presets import default_format, is_tiny, preset_dict
from edgevlm.checkpoint.specs import TensorSpec, tensor_specs
from edgevlm.checkpoint.tokenizer import write_tokenizer_files
from edgevlm.checkpoint.writers import Entry, parse_size, write_safetensors, write_sharded_bin, write_torch_bin
from edgevlm.errors import BadSynthOption, OutputError
from edgevlm.files import atomic_dir

Format = Literal["bin", "safetensors", "sharded"]
FORMATS = ("bin", "safetensors", "sharded")
DTYPES = ("float32", "bfloat16", "float16")
_PROGRESS_MIN_BYTES = 64 * 2**20


def default_dtype(preset: str) -> str:
    """f32 for the tiny presets (so f32 parity tests are meaningful); bf16, as real checkpoints ship, otherwise."""
    return "float32" if is_tiny(preset) else "bfloat16"


def generate_tensor(spec: TensorSpec, seed: int, dtype: str):
    """The tensor for `spec`, from a generator seeded by (seed, name): independent of write order."""
    import torch  # lazy: torch, heavy, optional

    digest = hashlib.sha256(f"edgevlm-synth/{seed}/{spec.name}".encode()).digest()
    gen = torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") & (2**63 - 1))
    t = torch.randn(spec.shape, generator=gen, dtype=torch.float32)
    t.mul_(spec.std)
    if spec.init == "norm":
        t.add_(1.0)
    return t.to(getattr(torch, dtype))


@dataclass(frozen=True)
class SynthOptions:
    """How a synthetic checkpoint is stored and written (what it holds: the preset, seed and llm_only)."""
    dtype: str | None = None              # None: f32 for tiny presets, bf16 otherwise (default_dtype)
    shard_size: str = "2GB"               # largest shard, for fmt "sharded"
    force: bool = False                   # replace a non-empty out_dir
    progress: bool | None = None          # None: a bar for large checkpoints only
    overrides: dict | None = None         # config.json keys replaced (benchmarks/arm_cost.py: fewer layers)


def synthesize(preset: str, out_dir: Path, fmt: Format | None = None, seed: int = 0, llm_only: bool = False,
               options: SynthOptions | None = None, **changes: Any) -> Path:
    """Write preset `preset` as a checkpoint folder `out_dir`; returns its path. `fmt` None: the format the
    public checkpoint of that shape ships (sharded with an index for 7B, pytorch_model.bin otherwise).
    `changes`: fields of `options` (SynthOptions) replaced, e.g. `synthesize(p, out, dtype="bfloat16")`."""
    o = replace(options or SynthOptions(), **changes)
    config_dict = preset_dict(preset, llm_only)  # raises UnknownPreset first: cheapest check
    config_dict.update(o.overrides or {})
    fmt = fmt or default_format(preset)
    dtype = o.dtype or default_dtype(preset)
    _check_options(fmt, dtype)
    shard_bytes = _shard_bytes(o.shard_size) if fmt == "sharded" else 0
    config_dict["torch_dtype"] = dtype
    cfg = MobileVLMConfig.from_hf_dict(config_dict)
    specs = tensor_specs(cfg)
    out_dir = Path(out_dir)
    with _staging(out_dir, o.force) as tmp:
        _write_json(tmp / "config.json", cfg.to_hf_dict())
        _write_json(tmp / "generation_config.json", _generation_config(cfg))
        write_tokenizer_files(tmp, cfg.llm.vocab_size, cfg.llm.max_position_embeddings)
        _write_weights(tmp, specs, fmt, seed, dtype, shard_bytes, o.progress)
    return out_dir


def _check_options(fmt: str, dtype: str) -> None:
    if fmt not in FORMATS:
        raise BadSynthOption(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    if dtype not in DTYPES:
        raise BadSynthOption(f"unknown dtype {dtype!r}; choose one of: {', '.join(DTYPES)}")


def _shard_bytes(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise BadSynthOption(str(exc)) from None


def _generation_config(cfg: MobileVLMConfig) -> dict:
    return {"_from_model_config": True, "bos_token_id": cfg.llm.bos_token_id,
            "eos_token_id": cfg.llm.eos_token_id, "pad_token_id": cfg.llm.pad_token_id}


def _write_json(path: Path, content: dict) -> None:
    path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")


def _write_weights(out: Path, specs: list[TensorSpec], fmt: str, seed: int, dtype: str, shard_bytes: int,
                   progress: bool | None) -> None:
    by_name = {s.name: s for s in specs}
    entries = [Entry(s.name, s.shape, dtype) for s in specs]
    total = sum(e.nbytes for e in entries)

    def produce(name: str):
        return generate_tensor(by_name[name], seed, dtype)

    with _progress(total, progress) as advance:
        if fmt == "bin":
            write_torch_bin(out / "pytorch_model.bin", entries, produce, advance)
        elif fmt == "safetensors":
            write_safetensors(out / "model.safetensors", entries, produce, advance)
        else:
            write_sharded_bin(out, entries, produce, advance, shard_bytes)


@contextmanager
def _progress(total: int, enabled: bool | None) -> Iterator:
    if enabled is False or (enabled is None and total < _PROGRESS_MIN_BYTES):
        yield lambda n: None
        return

    columns = (TextColumn("synth"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task("weights", total=total)
        yield lambda n: bar.advance(task, n)


@contextmanager
def _staging(out_dir: Path, force: bool) -> Iterator[Path]:
    """A temporary sibling folder that becomes `out_dir` only if everything inside was written."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"output {out_dir} exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise OutputError(f"output folder {out_dir} is not empty", hint="choose another folder or pass --force")
    # hidden while half-made: a visible folder would look like a checkpoint to a user listing the parent
    with atomic_dir(out_dir, tmp=out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}") as tmp:
        yield tmp

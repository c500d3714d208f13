"""The matrix's models as the cells need them: a converted output (a folder of GGUF files) is used as it is; a
checkpoint folder (Hugging Face layout) is converted on the driver, once per quant, into a cache keyed by the
checkpoint's content hash, so the next matrix over the same checkpoint converts nothing."""
from __future__ import annotations

from pathlib import Path

from edgevlm.convert import convert
from edgevlm.lab.matrix import Matrix
from edgevlm.lab.payload import cache_root, folder_digest

DEFAULT_QUANT = "Q4_K_M"   # what `edgevlm convert` makes when no quant is named


def is_converted(folder: Path) -> bool:
    return any(folder.glob("*.gguf"))


def model_folders(matrix: Matrix, progress=None) -> dict[tuple[Path, str | None], Path]:
    """{(model as the matrix names it, quant): the converted folder a cell benches}."""
    out: dict[tuple[Path, str | None], Path] = {}
    for model in matrix.models:
        for quant in matrix.quants:
            out[(model, quant)] = model if is_converted(model) else _converted(model, quant or DEFAULT_QUANT,
                                                                                 progress)
    return out


def _converted(checkpoint: Path, quant: str, progress) -> Path:
    target = cache_root() / "converted" / f"{folder_digest(checkpoint)[:16]}-{quant.upper()}"
    if not is_converted(target):
        task = progress.add_task(f"convert {checkpoint.name} {quant.upper()}", total=None) if progress else None
        convert(checkpoint, target, quant=quant.lower(), name=checkpoint.name)
        if task is not None:
            progress.remove_task(task)
    return target

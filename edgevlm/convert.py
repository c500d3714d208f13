"""`convert()`: one call from a MobileVLM / MobileLLaMA checkpoint to an LLM GGUF, an mmproj GGUF and a manifest.

    OUT/<name>-<QUANT>.gguf          the LLM, quantized by llama.cpp's own llama_model_quantize
    OUT/mmproj-<name>-<F16|Q8_0|F32>.gguf   CLIP tower + projector (MobileVLM only)
    OUT/manifest.json                sha256/size per file, parameter counts, source config hash, versions

Everything is checked before a byte is written (options, config, two-way tensor coverage, output folder).
All files are produced in a staging folder inside OUT (after a free-space check), fsynced, and moved into
place only when every one of them is complete: a failed run leaves OUT exactly as it was (previous outputs
included), and a staging folder left by a killed run is removed by the next one. The input folder is never
written. No timestamps anywhere: a second run with the same inputs gives byte-identical files.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator

from edgevlm import __version__, publish
from edgevlm.artifact import MANIFEST, output_names
from edgevlm.checkpoint.reader import Checkpoint, open_checkpoint
from edgevlm.errors import BadConvertOption, OutputError
from edgevlm.ggufio import write_llm_gguf, write_mmproj_gguf
from edgevlm.files import (atomic_output, check_free_space, ensure_output_dir,
                           output_error)
from edgevlm.hashing import sha256_file
from edgevlm.mapping import Table, check_coverage, tables_for
from edgevlm.progress import progress_bar
from edgevlm.quantize import quantize_gguf
from edgevlm.quants import LLM_QUANTS, MMPROJ_QUANTS, QUANTS
from edgevlm.toolchain.pin import LLAMA_CPP_COMMIT

MANIFEST_VERSION = 2  # 2: the vision tower's resolution is recorded
STAGING_PREFIX = ".edgevlm-staging-"
# bytes per parameter of a finished LLM file, rounded up (k-quants keep some tensors at 6 bits)


def llama_cpp_commit() -> str:
    """The pinned llama.cpp commit, from its one home (edgevlm.toolchain.pin)."""
    return LLAMA_CPP_COMMIT


@dataclass(frozen=True)
class ConvertResult:
    out_dir: Path
    llm: Path
    mmproj: Path | None
    manifest: Path
    vision_tower: str | None = None  # how the tower was resolved, for the user to read


@dataclass(frozen=True)
class ConvertOptions:
    """What `convert` makes: the quant types, the importance matrix, the files' base name, how it runs."""
    quant: str = "q4_k_m"
    mmproj_quant: str = "f16"
    imatrix: str | os.PathLike | None = None
    name: str | None = None                          # None: the model's name
    progress: bool = False
    nthread: int = 0                                 # quantization threads (0: all cores)
    vision_tower: str | os.PathLike | None = None    # overrides config.json's mm_vision_tower


def convert(source: str | os.PathLike, out: str | os.PathLike, options: ConvertOptions | None = None,
            **changes: Any) -> ConvertResult:
    """`changes`: fields of `options` (ConvertOptions) replaced, e.g. `convert(src, out, quant="q4_0")`."""
    o = replace(options or ConvertOptions(), **changes)
    quant, mmproj_quant = o.quant, o.mmproj_quant
    _check_options(quant, mmproj_quant, o.imatrix)
    ckpt = open_checkpoint(source, o.vision_tower)
    out = Path(out).expanduser().resolve()
    _refuse_input_folder(ckpt.path, out)
    llm_table, mm_table = tables_for(ckpt.config, ckpt.names())
    tables = [t for t in (llm_table, mm_table) if t is not None]
    check_coverage(tables, {n: ckpt.meta(n).shape for n in ckpt.names()})
    name = _safe_name(o.name or _default_name(ckpt))
    llm_name, mm_name = output_names(name, quant, mmproj_quant, mm_table is not None)
    created = not out.exists()
    if out.is_dir():
        _remove_stale_staging(out)  # a killed run's leftovers must not count against the free space
    check_free_space(out, _bytes_needed(llm_table, mm_table, quant, mmproj_quant), "the GGUF files")
    ensure_output_dir(out)
    with _staging(out, remove_out=created) as stage, _Progress(o.progress, sum(len(t.specs) for t in tables)) as bar:
        _write_llm(ckpt, llm_table, stage / llm_name, name, o, bar)
        if mm_table is not None:
            write_mmproj_gguf(ckpt, mm_table, stage / mm_name, mmproj_quant, name, bar.advance)
        manifest = _manifest(ckpt, stage, (llm_name, mm_name), tables, o)
        with atomic_output(stage / MANIFEST) as tmp:
            tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        _commit(stage, out, [n for n in (llm_name, mm_name, MANIFEST) if n])
    return ConvertResult(out, out / llm_name, out / mm_name if mm_name else None, out / MANIFEST,
                         tower_summary(ckpt))


def tower_summary(ckpt: Checkpoint) -> str | None:
    """One line: where the tower's description and its weights came from."""
    tower = ckpt.config.tower
    if tower is None:
        return None
    return f"vision tower: {tower.describe()}; weights from the {ckpt.tower_weights}"


def _check_options(quant: str, mmproj_quant: str, imatrix) -> None:
    if quant not in LLM_QUANTS:
        raise BadConvertOption(f"--quant {quant!r} is not supported; choose one of: {', '.join(LLM_QUANTS)}")
    if mmproj_quant not in MMPROJ_QUANTS:
        raise BadConvertOption(f"--mmproj-quant {mmproj_quant!r} is not supported; choose one of: "
                               f"{', '.join(MMPROJ_QUANTS)}")
    if imatrix is not None:
        if QUANTS[quant].unquantized:
            raise BadConvertOption(f"--imatrix only applies to quantized types, not --quant {quant}")
        if not Path(imatrix).is_file():
            raise BadConvertOption(f"imatrix file {imatrix} does not exist")


def _refuse_input_folder(src: Path, out: Path) -> None:
    if out == src or src in out.parents:
        raise OutputError(f"output folder {out} is inside the input checkpoint {src}",
                          hint="inputs are read-only: choose an output folder outside the checkpoint")


def _default_name(ckpt: Checkpoint) -> str:
    raw = ckpt.config.raw.get("_name_or_path")
    return Path(raw).name if isinstance(raw, str) and raw.strip("/") else ckpt.path.name


def _safe_name(name: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9._+-]+", "-", name).strip("-.")
    if not clean:
        raise BadConvertOption(f"--name {name!r} has no usable characters (letters, digits, . _ + -)")
    return clean


def _matrix_storage(ckpt: Checkpoint, table: Table) -> str:
    """Intermediate LLM precision: f32 if the source matrices are f32 (exact), f16 otherwise (bf16/f16)."""
    dtypes = {ckpt.meta(s.source).dtype for s in table.specs if s.kind == "matrix"}
    return "f32" if "float32" in dtypes or "float64" in dtypes else "f16"


def rebuild_unquantized(ckpt: Checkpoint, folder: Path) -> tuple[Path, str]:
    """The LLM GGUF a quantized conversion starts from (f16, or f32 for an f32 checkpoint), written into
    `folder` exactly as `convert` writes its intermediate: verify's proof that the quantized file is right."""
    llm_table, _ = tables_for(ckpt.config, ckpt.names())
    storage = _matrix_storage(ckpt, llm_table)
    path = folder / f"unquantized-{storage.upper()}.gguf"
    check_free_space(folder, int(_bytes_needed(llm_table, None, storage, "f16") * 1.5), "the unquantized LLM")
    write_llm_gguf(ckpt, llm_table, path, storage, "verify")
    return path, storage


def _write_llm(ckpt, table, path: Path, name: str, o: ConvertOptions, bar) -> None:
    """The LLM GGUF at `path`: written directly when unquantized, else an intermediate quantized by llama.cpp."""
    quant = o.quant
    if QUANTS[quant].unquantized:
        write_llm_gguf(ckpt, table, path, quant, name, bar.advance)
        return
    storage = _matrix_storage(ckpt, table)
    intermediate = path.parent / f"{name}-{storage.upper()}.intermediate.gguf"
    write_llm_gguf(ckpt, table, intermediate, storage, name, bar.advance)
    bar.status(f"quantizing to {quant.upper()} (llama.cpp)")
    quantize_gguf(intermediate, path, quant, Path(o.imatrix) if o.imatrix else None, o.nthread)
    intermediate.unlink()
    bar.status("writing tensors")


def _bytes_needed(llm_table: Table, mm_table: Table | None, quant: str, mmproj_quant: str) -> int:
    """Peak bytes in the staging folder: the f16/f32 intermediate + the quantized LLM + the mmproj, +10%."""
    llm = sum(_numel(s.shape) for s in llm_table.specs)
    mm = sum(_numel(s.shape) for s in mm_table.specs) if mm_table is not None else 0
    intermediate = 0 if QUANTS[quant].unquantized else llm * 4  # f32 when the source is f32 (worst case)
    total = intermediate + llm * QUANTS[quant].llm_bytes_per_param + mm * QUANTS[mmproj_quant].mmproj_bytes_per_param
    return int(total * 1.1) + (1 << 20)


def _manifest(ckpt, stage: Path, names: tuple[str, str | None], tables, o: ConvertOptions) -> dict:
    llm_name, mm_name = names
    counts = [sum(_numel(s.shape) for s in t.specs) for t in tables]
    tower = ckpt.config.tower
    return {
        "manifest_version": MANIFEST_VERSION,
        "edgevlm_version": __version__,
        "llama_cpp_commit": llama_cpp_commit(),
        "source": {"config_sha256": ckpt.config_sha256, "architecture": ckpt.config.architecture,
                   "projector_type": ckpt.config.projector_type},
        "quant": o.quant, "mmproj_quant": o.mmproj_quant if mm_name else None,
        "imatrix_sha256": sha256_file(Path(o.imatrix)) if o.imatrix else None,
        "files": {"llm": _file_entry(stage, llm_name), "mmproj": _file_entry(stage, mm_name) if mm_name else None},
        "parameters": {"llm": counts[0], "mmproj": counts[1] if len(counts) > 1 else 0},
        "vision": ({"block_count_stored": ckpt.config.vision.num_hidden_layers,
                    "select_layer": ckpt.config.vision.select_layer,
                    "layers_used": ckpt.config.vision.n_layers_used} if mm_name else None),
        "vision_tower": ({**tower.record(), "override": str(o.vision_tower) if o.vision_tower is not None else None,
                          "weights": ckpt.tower_weights} if tower is not None else None),
    }


def _file_entry(stage: Path, name: str) -> dict:
    return {"name": name, "sha256": sha256_file(stage / name), "size": (stage / name).stat().st_size}


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _remove_stale_staging(out: Path) -> None:
    """Staging folders of runs that were killed (their process is gone) are recovered, then deleted: a publish
    cut short is rolled back (its previous outputs restored from the staging folder) or, if it had committed,
    kept; live runs' folders are left."""
    for stale in out.glob(STAGING_PREFIX + "*"):
        pid = stale.name[len(STAGING_PREFIX):]
        if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):
            continue
        try:
            publish.recover(stale, out)
        except OSError as exc:
            raise output_error(out, exc) from exc


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


@contextmanager
def _staging(out: Path, remove_out: bool) -> Iterator[Path]:
    """A private folder inside OUT for files being written; on failure OUT goes too if this run created it."""
    stage = out / f"{STAGING_PREFIX}{os.getpid()}"
    try:
        stage.mkdir(exist_ok=True)
    except OSError as exc:
        raise output_error(out, exc) from exc
    try:
        yield stage
    except BaseException:
        publish.recover(stage, out)  # Ctrl-C inside the publish: the previous outputs go back, then the folder
        if remove_out and not any(out.iterdir()):
            out.rmdir()
        raise
    shutil.rmtree(stage, ignore_errors=True)


def _commit(stage: Path, out: Path, names: list[str]) -> None:
    """Move every file into OUT, all or nothing, recoverably (edgevlm.publish): OUT is either all new or as it was,
    even when this process is killed halfway."""
    try:
        publish.publish(stage, out, names)
    except OSError as exc:
        raise output_error(out, exc) from exc


class _Progress:
    """A rich bar over tensors written (both files), or nothing when `enabled` is false."""

    def __init__(self, enabled: bool, total: int):
        self.enabled, self.total = enabled, total
        self._stack = ExitStack()
        self._bar = self._task = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            self._bar = self._stack.enter_context(progress_bar())
            self._task = self._bar.add_task("writing tensors", total=self.total)
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def advance(self, _tensor=None) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)

    def status(self, text: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=text)

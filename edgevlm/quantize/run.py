"""Quantize an F32/F16 LLM GGUF with the pinned llama.cpp's own `llama_model_quantize` (llama-cpp-python).

The output appears only when complete (temp name, then rename). A GGUF importance matrix is passed through
the C API; a legacy `.dat` imatrix goes through the pinned `llama-quantize --imatrix` binary instead,
because parsing that format again in Python would duplicate llama.cpp's loader.
"""
from __future__ import annotations

import ctypes
import logging
import subprocess
from pathlib import Path

from edgevlm.errors import NativeNotBuilt, OutputError
from edgevlm.files import atomic_output
from edgevlm.llama_env import import_llama_cpp, quiet_native_output
from edgevlm.paths import host_bin_dir
from edgevlm.quantize.imatrix import is_gguf, load_gguf_imatrix, to_ctypes
from edgevlm.quants import QUANTS


def quantize_gguf(src: Path, dst: Path, quant: str, imatrix: Path | None = None, nthread: int = 0) -> None:
    if imatrix is not None and not is_gguf(imatrix):
        _quantize_with_binary(src, dst, quant, imatrix, nthread)
        return

    llama_cpp = import_llama_cpp()
    # llama.cpp's per-tensor log would scroll over the progress bar; warnings and errors still print
    logging.getLogger("llama-cpp-python").setLevel(logging.WARNING)
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANTS[quant].llm_ftype
    params.nthread = nthread
    keep = None
    if imatrix is not None:
        arr, keep = to_ctypes(load_gguf_imatrix(imatrix), llama_cpp.llama_model_imatrix_data)
        params.imatrix = ctypes.cast(arr, ctypes.POINTER(llama_cpp.llama_model_imatrix_data))
        keep.append(arr)
    with atomic_output(dst) as tmp:
        with quiet_native_output() as log:
            rc = llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(), ctypes.byref(params))
        if rc != 0 or not tmp.is_file():
            raise OutputError(f"llama_model_quantize failed ({rc}) writing {dst.name}; llama.cpp said:\n"
                              f"{log.tail()}", hint="check free disk space")
    del keep


def _quantize_with_binary(src: Path, dst: Path, quant: str, imatrix: Path, nthread: int) -> None:
    exe = host_bin_dir() / "llama-quantize"
    if not exe.is_file():
        raise NativeNotBuilt(f"{exe} is not built (needed for a legacy .dat imatrix)", hint="run `make native`")
    with atomic_output(dst) as tmp:
        cmd = [str(exe), "--imatrix", str(imatrix), str(src), str(tmp), quant.upper()]
        if nthread > 0:
            cmd.append(str(nthread))
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise OutputError(f"llama-quantize failed ({proc.returncode}): {' | '.join(tail)}")

"""Loading libedgevlm (ctypes) from the host build folder, and the functions every component shares."""
from __future__ import annotations

import ctypes
import functools
from pathlib import Path

from edgevlm import paths
from edgevlm.errors import NativeCallFailed, NativeNotBuilt

LIB_NAME = "libedgevlm.so"


def library_path() -> Path:
    return paths.host_bin_dir() / LIB_NAME


@functools.lru_cache(maxsize=None)
def _load(path: str) -> ctypes.CDLL:
    lib = ctypes.CDLL(path)
    for name in ("edgevlm_version", "edgevlm_simd", "edgevlm_int8_dot", "edgevlm_last_error"):
        fn = getattr(lib, name)
        fn.restype = ctypes.c_char_p
        fn.argtypes = []
    return lib


def load_library() -> ctypes.CDLL:
    """The loaded libedgevlm; NativeNotBuilt if the host build has not produced it."""
    path = library_path()
    if not path.is_file():
        raise NativeNotBuilt(f"{path} does not exist", hint="run `make native` (builds the host native code)")
    try:
        return _load(str(path))
    except OSError as exc:
        raise NativeNotBuilt(f"cannot load {path}: {exc}", hint="rebuild with `make native`") from exc


def check(lib: ctypes.CDLL, status: int, what: str) -> None:
    """Raise NativeCallFailed with the library's message when a call returned a non-zero status."""
    if status != 0:
        message = lib.edgevlm_last_error().decode(errors="replace")
        raise NativeCallFailed(f"{what} failed (status {status}): {message}")


def native_info() -> dict[str, str]:
    """Version, compiled SIMD path and int8 dot product ("" if none) of the loaded library (recorded with
    benchmark results)."""
    lib = load_library()
    return {
        "version": lib.edgevlm_version().decode(),
        "simd": lib.edgevlm_simd().decode(),
        "int8_dot": lib.edgevlm_int8_dot().decode(),
        "path": str(library_path()),
    }

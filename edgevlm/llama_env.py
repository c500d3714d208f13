"""Import llama-cpp-python bound to edgevlm's own llama.cpp build: one llama.cpp, one ABI.

llama-cpp-python is installed without its own native build (CMAKE_ARGS=-DLLAMA_BUILD=OFF). Its loaders read
LLAMA_CPP_LIB_PATH (libllama + ggml) and MTMD_CPP_LIB (libmtmd) at import time, so both must point at our build
folder before the first `import llama_cpp` anywhere in the process.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from edgevlm.errors import NativeNotBuilt
from edgevlm.paths import host_bin_dir

REQUIRED_LIBS = ("libllama.so", "libggml.so", "libmtmd.so")


def native_lib_dir() -> Path:
    """The folder holding the host build's shared libraries; raises NativeNotBuilt if they are missing."""
    lib_dir = host_bin_dir()
    missing = [name for name in REQUIRED_LIBS if not (lib_dir / name).exists()]
    if missing:
        raise NativeNotBuilt(
            f"the pinned llama.cpp libraries are not built ({', '.join(missing)} missing in {lib_dir})",
            hint="run `make native` (about 10 minutes on 2 cores the first time, seconds afterwards)",
        )
    return lib_dir


def _bind_environment(lib_dir: Path) -> None:
    already = "llama_cpp" in sys.modules
    current = os.environ.get("LLAMA_CPP_LIB_PATH")
    if already and current != str(lib_dir):
        raise NativeNotBuilt(
            f"llama_cpp was imported before edgevlm pointed it at {lib_dir} (it uses {current or 'its own copy'})",
            hint="import llama_cpp only through edgevlm.llama_env.import_llama_cpp()",
        )
    os.environ["LLAMA_CPP_LIB_PATH"] = str(lib_dir)
    os.environ["MTMD_CPP_LIB"] = str(lib_dir)


def import_llama_cpp() -> ModuleType:
    """`llama_cpp`, loaded against edgevlm's build of the pinned llama.cpp."""
    _bind_environment(native_lib_dir())
    import llama_cpp  # lazy: loads libllama

    return llama_cpp


def import_mtmd_cpp() -> ModuleType:
    """`llama_cpp.mtmd_cpp` (libmtmd bindings), loaded against the same build."""
    import_llama_cpp()
    from llama_cpp import mtmd_cpp  # lazy: loads libllama

    return mtmd_cpp


class NativeOutput:
    """What native code printed while quiet_native_output() was active (kept for error messages)."""

    def __init__(self) -> None:
        self.text = ""

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.text.splitlines()[-lines:])


@contextlib.contextmanager
def quiet_native_output():
    """Capture what C/C++ code writes to file descriptors 1 and 2 (llama.cpp, ggml and clip logs).

    Their loggers write straight to the process's stdout/stderr, bypassing Python; users see tables and
    progress bars, not hundreds of loader lines. The text is kept on the yielded object for error messages.
    """
    captured = NativeOutput()
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile(mode="w+b") as sink:
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            yield captured
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            sink.seek(0)
            captured.text = sink.read().decode(errors="replace")

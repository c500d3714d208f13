"""Which function each executed block belongs to (aarch64-linux-gnu-nm of the static binary), and the groups
the report sums them into."""
from __future__ import annotations

import bisect
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from edgevlm.errors import CostModelError

NM = "aarch64-linux-gnu-nm"

# (group, pattern on the demangled name), first match wins. The order matters: attention before matmul
# (flash attention calls vec_dot kernels of its own), repack before matmul.
GROUPS: tuple[tuple[str, re.Pattern], ...] = tuple((g, re.compile(p)) for g, p in (
    ("attention", r"flash_attn|soft_max|::attention\(|\battn::"),
    ("repack", r"repack|ggml_quantize_mat|quantize_row_q8_K_ref|convert_f16_to"),
    ("matmul", r"mul_mat|gemm|gemv|tinyBLAS|vec_dot|q8::|ggml_vec_mad|cpu_linear|edgevlm::ldp::.*linear"),
    ("text parsing (libc stdio)", r"^_?_?(v?f?scanf|vfscanf|_IO_|__isoc99|fgets|strto|____strto|__strto|"
                                   r"_nl_|__libc_scanf|vsscanf|sscanf|__vfscanf)"),
    ("memory (libc)", r"^(__)?(mem|str)(cpy|move|set|cmp|len|chr)|^__memcpy|^__memset|^memcpy|^memset"),
    ("libc / startup", r"^_?_?libc|^_dl_|^__GI_|^_start|^__gconv|malloc|free|^_int_|^__munmap|^__mmap"),
    ("ggml other", r"^ggml_|ggml_compute_forward"),
    ("llama", r"^llama_|llama_model|llama_context|llm_|llama_"),
    ("edgevlm other", r"edgevlm"),
))


@dataclass(frozen=True)
class Symbols:
    starts: list[int]
    ends: list[int]
    names: list[str]

    def function(self, pc: int) -> str:
        i = bisect.bisect_right(self.starts, pc) - 1
        if i >= 0 and pc < self.ends[i]:
            return self.names[i]
        return "?"


def group_of(name: str) -> str:
    for group, pattern in GROUPS:
        if pattern.search(name):
            return group
    return "other"


def read_symbols(binary: Path) -> Symbols:
    """Function symbols (text, with a size) of a static aarch64 binary, demangled, sorted by address."""
    rows = []
    for line in _nm(binary, "-S", "-C", "--defined-only"):
        parts = line.split(" ", 3)
        if len(parts) == 4 and parts[2] in "tTwW" and parts[1].strip("0"):
            start, size = int(parts[0], 16), int(parts[1], 16)
            rows.append((start, start + size, parts[3]))
    rows.sort()
    return Symbols([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])


def address_of(binary: Path, name: str) -> tuple[int, int]:
    """(address, size) of the symbol `name`: a C name, or a C++ function's name without its parameters (the
    first overload)."""
    for line in _nm(binary, "-S", "-C", "--defined-only"):
        parts = line.split(" ", 3)
        if len(parts) == 4 and (parts[3] == name or parts[3].startswith(name + "(")):
            return int(parts[0], 16), int(parts[1], 16)
    raise CostModelError(f"{binary} has no symbol {name} (not a build with edgevlm's stage markers?)")


def _nm(binary: Path, *args: str) -> list[str]:
    if not shutil.which(NM):
        raise CostModelError(f"{NM} not found", hint="apt-get install binutils-aarch64-linux-gnu")
    proc = subprocess.run([NM, *args, str(binary)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise CostModelError(f"{NM} could not read {binary}: {proc.stderr.strip()[:200]}")
    return proc.stdout.splitlines()

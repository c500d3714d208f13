"""`edgevlm doctor`: what is installed, what is built, which system tools are present."""
from __future__ import annotations

import importlib.metadata
import json
import platform
import shutil
import subprocess
from dataclasses import dataclass

from edgevlm.errors import EdgeVLMError
from edgevlm.native import native_info
from edgevlm.paths import build_root
from edgevlm.toolchain import pin
from edgevlm.toolchain.cuda import wheel_nvcc
from edgevlm.toolchain.layout import expected_parts, is_static
from edgevlm.toolchain.targets import HOST

PYTHON_PACKAGES = ("edgevlm", "torch", "transformers", "gguf", "llama_cpp_python", "numpy", "safetensors",
                   "sentencepiece", "typer", "rich")
# (tool, version flag, what edgevlm uses it for)
SYSTEM_TOOLS = (
    ("cmake", "--version", "building llama.cpp and kernels/"),
    ("ninja", "--version", "building"),
    ("ccache", "--version", "fast rebuilds"),
    ("adb", "version", "Android devices (sd888)"),
    ("qemu-aarch64-static", "--version", "running arm64 builds in tests"),
    ("aarch64-linux-gnu-g++", "--version", "android-arm64 cross build without the NDK"),
    ("/usr/sbin/sshd", "-V", "ssh transport tests"),
    ("ssh", "-V", "Jetson over ssh"),
)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def python_checks() -> list[Check]:
    checks = [Check("python", True, platform.python_version())]
    for dist in PYTHON_PACKAGES:
        try:
            checks.append(Check(dist, True, importlib.metadata.version(dist)))
        except importlib.metadata.PackageNotFoundError:
            checks.append(Check(dist, False, "not installed"))
    return checks


def _first_line(cmd: list[str]) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"error: {exc}"
    out = (proc.stdout or proc.stderr).strip().splitlines()
    return out[0] if out else ""


def _release_line(nvcc) -> str:
    try:
        out = subprocess.run([str(nvcc), "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"error: {exc}"
    return next((line for line in out.splitlines() if "release" in line), "")


def tool_checks() -> list[Check]:
    nvcc = wheel_nvcc()   # the CUDA compile check uses the PyPI wheel, never a system nvcc
    release = _release_line(nvcc) if nvcc else ""
    checks = [Check("nvcc (PyPI wheel)", nvcc is not None,
                    f"{release or nvcc}  (jetson-orin CUDA compile check)" if nvcc
                    else "missing: pip install -e '.[test]' (nvidia-cuda-nvcc wheels)")]
    for tool, flag, purpose in SYSTEM_TOOLS:
        path = shutil.which(tool)
        detail = f"{_first_line([path, flag])}  ({purpose})" if path else f"missing ({purpose})"
        checks.append(Check(tool, path is not None, detail))
    return checks


def native_checks() -> list[Check]:
    checks = [Check("llama.cpp pin", True,
                    f"{pin.LLAMA_CPP_COMMIT} (llama-cpp-python {pin.LLAMA_CPP_PYTHON_VERSION} sdist, "
                    f"sha256 {pin.SDIST_SHA256[:12]}…)")]
    targets = sorted(p.name for p in build_root().iterdir() if (p / "bin").is_dir()) if build_root().exists() else []
    if not targets:
        checks.append(Check("native build", False, "nothing built yet: run `make native`"))
    for target in targets:
        checks.append(_build_check(target, build_root() / target / "bin"))
    if HOST.name in targets and (build_root() / HOST.name / "bin" / "libedgevlm.so").exists():
        checks.append(_kernel_check())
    return checks


def _build_check(target: str, bin_dir) -> Check:
    """A build judged by its own layout (a static android-arm64 build has tools and no libraries)."""

    info_file = bin_dir / "build-info.json"
    info = json.loads(info_file.read_text()) if info_file.is_file() else {}
    parts = expected_parts(target, info)
    present = [part for part in parts if any(bin_dir.glob(part))]
    missing = [part for part in parts if part not in present]
    kind = "static" if is_static(info) else "shared"
    detail = (f"{bin_dir}: {len(present)}/{len(parts)} parts of a {kind} {target} build"
              + (f"; missing {', '.join(missing)}" if missing else ""))
    return Check(f"build/{target}", not missing, detail)


def _kernel_check() -> Check:
    try:
        info = native_info()
    except (EdgeVLMError, OSError) as exc:
        return Check("edgevlm kernels", False, f"libedgevlm does not load: {exc}")
    int8 = info["int8_dot"]
    fast = f"int8 dot {int8}: a q8_0 mmproj runs on edgevlm's int8 GEMM" if int8 else \
        "no int8 dot product compiled in: a q8_0 mmproj stays on ggml's mul_mat (f16 is the better choice)"
    return Check("edgevlm kernels", True, f"SIMD {info['simd']}; {fast}")

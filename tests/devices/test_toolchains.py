"""Build targets and toolchain files, checked by compiling real code (fast: small probe projects).

- android-arm64: the toolchain file (Debian aarch64 GCC, static, -march=armv8.2-a+dotprod+fp16) builds a
  program that runs under qemu as a Cortex-A76 (Snapdragon 888 ISA) and dies with SIGILL as a Cortex-A72
  (no dotprod/fp16) — the -march really reaches the code.
- jetson-orin: CMake configures CUDA with the target's CMAKE_CUDA_ARCHITECTURES=87 and nvcc compiles one
  translation unit for sm_87 (no GPU needed); nvcc, the runtime and CCCL headers come from NVIDIA's PyPI wheels
  (the `test` extra), never from a system CUDA install; skipped with the reason where no such wheel installs.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from edgevlm.toolchain.cmake import _cmake_args
from edgevlm.toolchain.cuda import wheel_nvcc
from edgevlm.toolchain.targets import JETSON_ORIN, SD888_ARCH, resolve_target
from edgevlm.paths import devices_dir

DATA = Path(__file__).parent / "data"


def _need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.fail(f"missing tools: {', '.join(missing)} (make setup installs them)")


def _cmake(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(["cmake", *args], capture_output=True, text=True, cwd=cwd)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc


def test_android_target_selection(monkeypatch):
    plain = resolve_target("android-arm64", {})
    assert plain.toolchain_file == "toolchains/aarch64-linux-gnu.cmake"
    defs = dict(plain.cmake_defs)
    assert defs["GGML_CPU_ARM_ARCH"] == SD888_ARCH and defs["GGML_NATIVE"] == "OFF"
    assert defs["BUILD_SHARED_LIBS"] == "OFF"
    ndk = resolve_target("android-arm64", {"ANDROID_NDK_HOME": "/opt/ndk"})
    assert ndk.toolchain_file == "toolchains/android-ndk.cmake" and (devices_dir() / ndk.toolchain_file).exists()
    args = _cmake_args(plain, Path("/src"), Path("/b"))
    assert f"-DCMAKE_TOOLCHAIN_FILE={devices_dir() / plain.toolchain_file}" in args
    assert "-DGGML_CPU_ARM_ARCH=armv8.2-a+dotprod+fp16" in args


def test_arm_toolchain_builds_dotprod_static(tmp_path):
    _need("cmake", "aarch64-linux-gnu-gcc", "qemu-aarch64-static")
    toolchain = devices_dir() / resolve_target("android-arm64", {}).toolchain_file
    _cmake("-S", str(DATA / "arm_probe"), "-B", str(tmp_path), f"-DCMAKE_TOOLCHAIN_FILE={toolchain}",
           "-DCMAKE_BUILD_TYPE=Release")
    _cmake("--build", str(tmp_path))
    binary = tmp_path / "arm_probe"
    assert "statically linked" in subprocess.run(["file", str(binary)], capture_output=True, text=True).stdout
    a76 = subprocess.run(["qemu-aarch64-static", "-cpu", "cortex-a76", str(binary)], capture_output=True, text=True)
    assert (a76.returncode, a76.stdout) == (0, "dot=12 half=3.0\n")   # 4 x (1*3), 1.5*2
    a72 = subprocess.run(["qemu-aarch64-static", "-cpu", "cortex-a72", str(binary)], capture_output=True, text=True)
    assert a72.returncode == -4, a72   # SIGILL: the A72 has neither dotprod nor fp16 arithmetic


def test_jetson_cuda_sm87_configure_and_compile(tmp_path):
    _need("cmake")
    nvcc = wheel_nvcc()
    if nvcc is None:   # the `test` extra installs them on Linux x86_64 / aarch64; elsewhere no wheel exists
        pytest.skip("no CUDA compiler wheel installed (nvidia-cuda-nvcc==13.2.86 and friends, pyproject `test` extra)")
    defs = dict(JETSON_ORIN.cmake_defs)
    assert (defs["GGML_CUDA"], defs["CMAKE_CUDA_ARCHITECTURES"]) == ("ON", "87")
    _cmake("-S", str(DATA / "cuda_probe"), "-B", str(tmp_path), f"-DCMAKE_CUDA_ARCHITECTURES={defs['CMAKE_CUDA_ARCHITECTURES']}",
           f"-DCMAKE_CUDA_COMPILER={nvcc}", "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON")
    _cmake("--build", str(tmp_path))
    [command] = json.loads((tmp_path / "compile_commands.json").read_text())
    assert "compute_87" in command["command"] and "sm_87" in command["command"]
    objects = list(tmp_path.rglob("probe.cu.o"))
    assert len(objects) == 1 and objects[0].stat().st_size > 0
    # the fat binary inside carries sm_87 code: nvcc's own PTX for the same file targets sm_87
    ptx = subprocess.run([str(nvcc), "-arch=sm_87", "--ptx", "-o", "-", str(DATA / "cuda_probe" / "probe.cu")],
                         capture_output=True, text=True)
    assert ptx.returncode == 0 and ".target sm_87" in ptx.stdout and "dp4a" in ptx.stdout

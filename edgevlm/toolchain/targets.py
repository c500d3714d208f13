"""Build targets: how the one CMake project (kernels/) is configured for each kind of device.

Looked up by exact name. A target never guesses: what it needs (a cross compiler, nvcc) is checked before
CMake runs, and a missing tool is a BuildError that names the package to install.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from types import MappingProxyType

from edgevlm.errors import BuildError


@dataclass(frozen=True)
class BuildTarget:
    name: str
    description: str
    cmake_defs: tuple[tuple[str, str], ...] = ()
    toolchain_file: str | None = None      # relative to devices/
    required_tools: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = field(default=())


HOST = BuildTarget(
    name="host",
    description="this machine, tuned for its CPU (GGML_NATIVE)",
    cmake_defs=(("GGML_NATIVE", "ON"),),
)

# Snapdragon 888: Cortex-A78/X1/A55 = ARMv8.2-A + dotprod + fp16 arithmetic (no SVE, no i8mm).
SD888_ARCH = "armv8.2-a+dotprod+fp16"
# The C++ kernel tests are built too (static, small): tests/devices runs them under qemu as a Cortex-A76, which
# is how the NEON / dotprod paths of the LDP kernel and the int8 GEMM are checked on this x86 machine.
_ANDROID_DEFS = (("GGML_NATIVE", "OFF"), ("GGML_CPU_ARM_ARCH", SD888_ARCH), ("BUILD_SHARED_LIBS", "OFF"),
                 ("EDGEVLM_BUILD_TESTS", "ON"))

ANDROID_ARM64 = BuildTarget(
    name="android-arm64",
    description="Android phone, Snapdragon 888 ISA; Debian's aarch64 cross GCC, static binaries",
    cmake_defs=_ANDROID_DEFS + (("GGML_OPENMP", "ON"),),   # ggml falls back to its own threads without libgomp.a
    toolchain_file="toolchains/aarch64-linux-gnu.cmake",
    required_tools=("aarch64-linux-gnu-gcc", "aarch64-linux-gnu-g++"),
)

# Chosen instead of ANDROID_ARM64 when ANDROID_NDK_HOME is set (see resolve_target).
ANDROID_ARM64_NDK = BuildTarget(
    name="android-arm64",
    description="Android phone, Snapdragon 888 ISA; Android NDK (arm64-v8a, API 28), static libraries",
    cmake_defs=_ANDROID_DEFS + (("GGML_OPENMP", "OFF"),),
    toolchain_file="toolchains/android-ndk.cmake",
)

JETSON_ORIN = BuildTarget(
    name="jetson-orin",
    description="Jetson Orin, CUDA sm_87, built natively on the Jetson (over ssh, or here when on a Jetson)",
    cmake_defs=(("GGML_CUDA", "ON"), ("CMAKE_CUDA_ARCHITECTURES", "87"), ("GGML_NATIVE", "ON"),
                ("EDGEVLM_BUILD_TESTS", "OFF")),
    required_tools=("nvcc",),
)

TARGETS = MappingProxyType({t.name: t for t in (HOST, ANDROID_ARM64, JETSON_ORIN)})

# What a device bundle holds: edgevlm's runner and the stock tools it is compared against.
BUNDLE_TOOLS = ("edgevlm-run", "llama-bench", "llama-mtmd-cli")
# Built beside a bundle (not shipped in it) when the tree has them: the C++ kernel tests, run under qemu.
KERNEL_TESTS = ("test-edgevlm-ldp", "test-edgevlm-q8")


def get_target(name: str) -> BuildTarget:
    try:
        return TARGETS[name]
    except KeyError:
        raise BuildError(f"unknown build target {name!r}; known targets: {', '.join(TARGETS)}") from None


def resolve_target(name: str, environ: dict[str, str] | None = None) -> BuildTarget:
    """The target as it will be built here: android-arm64 uses the NDK when ANDROID_NDK_HOME is set."""
    target = get_target(name)
    env = os.environ if environ is None else environ
    if target is ANDROID_ARM64 and env.get("ANDROID_NDK_HOME"):
        return ANDROID_ARM64_NDK
    return target

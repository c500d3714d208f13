"""Build targets, the one registry: every fact about a target lives on its `BuildTarget` row.

How the one CMake project (kernels/) is configured for it, the machine and CPU extensions its binaries need,
where it is built (here, or natively on the device), and what its build / bundle holds. Looked up by exact
name; no other module lists targets or compares target names — they ask the row. A target never guesses:
what it needs (a cross compiler, nvcc) is checked before CMake runs, and a missing tool is a BuildError that
names the package to install. Adding a target = one row here (+ a toolchain file in devices/ if it cross-builds).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from types import MappingProxyType

from edgevlm.errors import BuildError


# What a device bundle holds: edgevlm's runner and the stock tools it is compared against.
BUNDLE_TOOLS = ("edgevlm-run", "edgevlm-serve", "llama-bench", "llama-mtmd-cli")
# Built beside a bundle (not shipped in it) when the tree has them: the C++ kernel tests, run under qemu.
KERNEL_TESTS = ("test-edgevlm-ldp", "test-edgevlm-q8", "test-edgevlm-f16")
# The host build: shared libraries (llama-cpp-python loads libllama / libmtmd from it) and every tool.
SHARED_LIBS = ("libllama.so", "libggml.so", "libmtmd.so", "libedgevlm.so")
HOST_TOOLS = ("edgevlm-run", "edgevlm-serve", "llama-cli", "llama-completion", "llama-mtmd-cli", "llama-bench", "llama-quantize")


@dataclass(frozen=True)
class BuildTarget:
    name: str
    description: str
    cmake_defs: tuple[tuple[str, str], ...] = ()
    toolchain_file: str | None = None      # relative to devices/
    required_tools: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = field(default=())
    machine: str = ""                      # `uname -m` its binaries need; "" = whatever built them (host)
    builds_on_device: bool = False         # built natively on the device over ssh (Jetsons), not cross-built here
    native_marker: str = ""                # a file only its devices have: when present, this machine is one
    default_profile: str = ""              # the device profile a remote build uses when none is named
    bundle_is_build: bool = False          # its bundle is the build's bin/ itself (host), not build/<t>/bundle
    build_tools: tuple[str, ...] = BUNDLE_TOOLS   # the tools a complete build of it has in bin/

    @property
    def cpu_extensions(self) -> tuple[str, ...]:
        """The ARM extensions its binaries use (GGML_CPU_ARM_ARCH's +parts), e.g. ("dotprod", "fp16")."""
        return tuple(dict(self.cmake_defs).get("GGML_CPU_ARM_ARCH", "").split("+")[1:])

    def expected_parts(self, static: bool) -> tuple[str, ...]:
        """The files a complete build of this target has in its bin/ folder (a static build: no libraries)."""
        if self.bundle_is_build:
            return SHARED_LIBS + self.build_tools
        return self.build_tools if static else self.build_tools + SHARED_LIBS[:3]


HOST = BuildTarget(
    name="host",
    description="this machine, tuned for its CPU (GGML_NATIVE)",
    cmake_defs=(("GGML_NATIVE", "ON"),),
    bundle_is_build=True,
    build_tools=HOST_TOOLS,
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
    machine="aarch64",
)

# Chosen instead of ANDROID_ARM64 when ANDROID_NDK_HOME is set (see resolve_target).
ANDROID_ARM64_NDK = BuildTarget(
    name="android-arm64",
    description="Android phone, Snapdragon 888 ISA; Android NDK (arm64-v8a, API 28), static libraries",
    cmake_defs=_ANDROID_DEFS + (("GGML_OPENMP", "OFF"),),
    toolchain_file="toolchains/android-ndk.cmake",
    machine="aarch64",
)

JETSON_ORIN = BuildTarget(
    name="jetson-orin",
    description="Jetson Orin, CUDA sm_87, built natively on the Jetson (over ssh, or here when on a Jetson)",
    cmake_defs=(("GGML_CUDA", "ON"), ("CMAKE_CUDA_ARCHITECTURES", "87"), ("GGML_NATIVE", "ON"),
                ("EDGEVLM_BUILD_TESTS", "OFF")),
    required_tools=("nvcc",),
    machine="aarch64",
    builds_on_device=True,
    native_marker="/etc/nv_tegra_release",
    default_profile="orin",
)

TARGETS = MappingProxyType({t.name: t for t in (HOST, ANDROID_ARM64, JETSON_ORIN)})


def get_target(name: str) -> BuildTarget:
    try:
        return TARGETS[name]
    except KeyError:
        raise BuildError(f"unknown build target {name!r}; known targets: {', '.join(TARGETS)}") from None


def machine_of(name: str) -> str:
    """The machine a target's binaries need ("" for host or a name not in the registry: nothing to check)."""
    target = TARGETS.get(name)
    return target.machine if target else ""


def resolve_target(name: str, environ: dict[str, str] | None = None) -> BuildTarget:
    """The target as it will be built here: android-arm64 uses the NDK when ANDROID_NDK_HOME is set."""
    target = get_target(name)
    env = os.environ if environ is None else environ
    if target is ANDROID_ARM64 and env.get("ANDROID_NDK_HOME"):
        return ANDROID_ARM64_NDK
    return target

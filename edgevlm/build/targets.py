"""Build targets: how the one CMake project (kernels/) is configured for each kind of device.

Looked up by exact name. A target never guesses: what it needs (a cross compiler, nvcc) is checked before
CMake runs, and a missing tool is a BuildError that names the package to install.
"""
from __future__ import annotations

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

TARGETS = MappingProxyType({t.name: t for t in (HOST,)})


def get_target(name: str) -> BuildTarget:
    try:
        return TARGETS[name]
    except KeyError:
        raise BuildError(f"unknown build target {name!r}; known targets: {', '.join(TARGETS)}") from None

"""What a finished build of each target holds, so `edgevlm doctor` judges every target by its own layout.

The host build is shared libraries + tools (llama-cpp-python loads libllama / libmtmd from it). A static build
(android-arm64: BUILD_SHARED_LIBS=OFF) has no libraries at all: its bundle is the tools, each self-contained.
Looked up from the build's own build-info.json (cmake_defs), never guessed from file names; the parts
themselves are the target's (edgevlm.toolchain.targets).
"""
from __future__ import annotations

from edgevlm.toolchain.targets import TARGETS, BuildTarget


def is_static(info: dict) -> bool:
    return str(info.get("cmake_defs", {}).get("BUILD_SHARED_LIBS", "ON")).upper() == "OFF"


def expected_parts(target: str, info: dict) -> tuple[str, ...]:
    """The files a complete build of `target` has in its bin/ folder."""
    # a folder built by hand under another name is judged as a device build
    row = TARGETS.get(target) or BuildTarget(name=target, description="")
    return row.expected_parts(is_static(info))

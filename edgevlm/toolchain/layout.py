"""What a finished build of each target holds, so `edgevlm doctor` judges every target by its own layout.

The host build is shared libraries + tools (llama-cpp-python loads libllama / libmtmd from it). A static build
(android-arm64: BUILD_SHARED_LIBS=OFF) has no libraries at all: its bundle is the tools, each self-contained.
Looked up from the build's own build-info.json (cmake_defs), never guessed from file names.
"""
from __future__ import annotations

from edgevlm.toolchain.targets import BUNDLE_TOOLS

SHARED_LIBS = ("libllama.so", "libggml.so", "libmtmd.so", "libedgevlm.so")
HOST_TOOLS = ("edgevlm-run", "llama-cli", "llama-completion", "llama-mtmd-cli", "llama-bench", "llama-quantize")


def is_static(info: dict) -> bool:
    return str(info.get("cmake_defs", {}).get("BUILD_SHARED_LIBS", "ON")).upper() == "OFF"


def expected_parts(target: str, info: dict) -> tuple[str, ...]:
    """The files a complete build of `target` has in its bin/ folder."""
    if target == "host":
        return SHARED_LIBS + HOST_TOOLS
    if is_static(info):
        return BUNDLE_TOOLS
    return BUNDLE_TOOLS + SHARED_LIBS[:3]

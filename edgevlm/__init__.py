"""edgevlm: MobileVLM from a Hugging Face checkpoint to a measured deployment on edge devices.

The package is a plain Python API with a thin CLI on top (``edgevlm.cli``). Heavy imports (torch,
llama_cpp) happen inside the functions that need them, so ``import edgevlm`` is cheap.
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "Runtime"]


def __getattr__(name: str):
    # lazy: `import edgevlm` stays cheap; the runtime (numpy, ctypes, llama_cpp) loads on first use
    if name == "Runtime":
        from edgevlm.runtime.runtime import Runtime

        return Runtime
    raise AttributeError(f"module 'edgevlm' has no attribute {name!r}")

"""edgevlm: MobileVLM from a Hugging Face checkpoint to a measured deployment on edge devices.

The package is a plain Python API with a thin CLI on top (``edgevlm.cli``). Heavy imports (torch,
llama_cpp) happen inside the functions that need them, so ``import edgevlm`` is cheap.
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]

"""The host runtime: edgevlm's native vision encoder + llama-cpp-python (bound to edgevlm's own llama.cpp
build) for the LLM, with the image embeddings fed to libllama as a batch of embeddings.

    rt = Runtime("out/", threads=2)            # a folder written by `edgevlm convert`
    result = rt.generate("What is shown?", image="photo.png", max_new_tokens=64, stream=print)
"""
from __future__ import annotations

from edgevlm.runtime.runtime import GenerateResult, Runtime

__all__ = ["Runtime", "GenerateResult"]

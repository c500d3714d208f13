"""Build stage: the pinned llama.cpp source, and CMake builds of it plus edgevlm's native code per target."""
from edgevlm.toolchain.pin import LLAMA_CPP_COMMIT, LLAMA_CPP_PYTHON_VERSION

__all__ = ["LLAMA_CPP_COMMIT", "LLAMA_CPP_PYTHON_VERSION"]

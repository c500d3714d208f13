"""The one pinned llama.cpp: the source vendored in the llama-cpp-python 0.3.36 sdist on PyPI.

The checksum is verified before extraction; the commit is the one the sdist's CHANGELOG names
("update llama.cpp to ggml-org/llama.cpp@0c1e57098"). Every build and every result records it.
"""
from __future__ import annotations

LLAMA_CPP_PYTHON_VERSION = "0.3.36"
SDIST_FILENAME = f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}.tar.gz"
SDIST_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
LLAMA_CPP_COMMIT = "0c1e57098"
# Path of the llama.cpp tree inside the sdist archive.
SDIST_LLAMA_CPP_DIR = f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}/vendor/llama.cpp"

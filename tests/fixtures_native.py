"""Fixtures for tests that need the host native build (registered via pytest -p in pyproject.toml).

A missing build is a failure, not a skip: CI builds it first (`make test` depends on `make native`). Set
EDGEVLM_ALLOW_SKIP_NATIVE=1 to skip such tests instead while developing without a build.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from edgevlm.paths import host_bin_dir


def _require(path: Path, what: str) -> Path:
    if path.exists():
        return path
    message = f"{what} not built ({path} missing): run `make native`"
    if os.environ.get("EDGEVLM_ALLOW_SKIP_NATIVE") == "1":
        pytest.skip(message)
    pytest.fail(message)


@pytest.fixture(scope="session")
def native_bin() -> Path:
    """build/host/bin with the pinned llama.cpp's shared libraries and stock tools."""
    bin_dir = host_bin_dir()
    _require(bin_dir / "libllama.so", "the pinned llama.cpp")
    return bin_dir


@pytest.fixture(scope="session")
def native_tool(native_bin):
    """native_tool("llama-mtmd-cli") -> path of a built binary (fails if missing)."""
    def get(name: str) -> Path:
        return _require(native_bin / name, name)

    return get

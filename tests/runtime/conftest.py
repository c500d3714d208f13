"""Fixtures of the runtime tests: the edgevlm-run binary (converted models and references: tests/conftest.py)."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def edgevlm_run(native_tool):
    return native_tool("edgevlm-run")

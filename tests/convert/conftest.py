"""Fixtures for converter tests: the native-build fixtures and a helper that reads a GGUF back."""
from __future__ import annotations

import pytest

from tests.fixtures_native import native_bin, native_tool  # noqa: F401  (re-exported fixtures)


@pytest.fixture
def read_gguf():
    """read_gguf(path) -> (kv dict of python values, {tensor name: GGUFReader tensor})."""
    from gguf import GGUFReader

    def read(path):
        reader = GGUFReader(path)
        kv = {name: field.contents() for name, field in reader.fields.items()}
        return kv, {t.name: t for t in reader.tensors}

    return read

"""Store fixtures: a real SQLite store under tmp_path."""
from __future__ import annotations

import pytest

from edgevlm.store import ResultsStore


@pytest.fixture
def store(tmp_path):
    with ResultsStore(tmp_path / "results.sqlite") as s:
        yield s

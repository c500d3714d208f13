"""Store fixtures: a real SQLite store under tmp_path; ``any_store`` runs a test on SQLite and on a real
PostgreSQL server (tests/servers)."""
from __future__ import annotations

import pytest

from edgevlm.store import ResultsStore
from tests.servers.fixtures import pg_url, postgres_server  # noqa: F401  (fixtures)


@pytest.fixture
def store(tmp_path):
    with ResultsStore(tmp_path / "results.sqlite") as s:
        yield s


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request, tmp_path) -> str:
    """Where a store lives: a SQLite path (not created yet) or the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "results.sqlite")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def any_store(store_location):
    with ResultsStore(store_location) as s:
        yield s

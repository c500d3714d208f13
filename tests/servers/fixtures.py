"""pytest fixtures over the real servers; a conftest imports the ones it needs (``from tests.servers.fixtures
import postgres_server, pg_url``)."""
from __future__ import annotations

import pytest

from tests.servers.postgres import start_postgres, stop_postgres, unavailable_reason


@pytest.fixture(scope="session")
def postgres_server():
    reason = unavailable_reason()
    if reason:
        print(f"\nPostgreSQL tests skipped: {reason}")
        pytest.skip(reason)
    server = start_postgres()
    yield server
    stop_postgres(server)


@pytest.fixture
def pg_url(postgres_server) -> str:
    """A fresh, empty database on the session's server."""
    return postgres_server.new_database()

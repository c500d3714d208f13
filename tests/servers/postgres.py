"""A real PostgreSQL server on 127.0.0.1 for tests: Debian's binaries, ``initdb`` into a temp folder, a free
port, stopped afterwards.

PostgreSQL refuses to run as root, and tests may run as root (CI, containers): then the cluster is owned by
and run as the unprivileged ``postgres`` user the Debian package creates (through ``runuser``). Trust auth on
loopback only; the socket lives inside the data folder, so nothing outside the temp folder is touched.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "edgevlm"


@dataclass
class PostgresServer:
    port: int
    datadir: Path
    bindir: Path
    run_as: str | None  # the unprivileged user the server runs as (None: the current user)
    _next_db: int = 0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def new_database(self, prefix: str = "t") -> str:
        """A fresh empty database; its URL."""
        self._next_db += 1
        name = f"{prefix}{os.getpid()}_{self._next_db}"
        self.psql(f"CREATE DATABASE {name}")
        return self.url(name)

    def psql(self, sql: str) -> str:
        out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER,
                              "-d", "postgres", "-c", sql], check=True, capture_output=True, text=True, timeout=60)
        return out.stdout


def find_bindir() -> Path | None:
    """Debian keeps initdb/pg_ctl under /usr/lib/postgresql/<major>/bin (not on PATH): the newest one."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def unavailable_reason() -> str | None:
    """Why no server can be started here (None: it can)."""
    if find_bindir() is None:
        return "PostgreSQL server binaries not found (apt-get install postgresql; the Makefile's sysdeps does)"
    if shutil.which("psql") is None:
        return "psql not found (apt-get install postgresql-client)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and no unprivileged 'postgres' user to run the server as"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_user(run_as: str | None, argv: list[str]) -> list[str]:
    return ["runuser", "-u", run_as, "--", *argv] if run_as else argv


def start_postgres() -> PostgresServer:
    bindir = find_bindir()
    run_as = "postgres" if os.geteuid() == 0 else None
    datadir = Path(tempfile.mkdtemp(prefix="edgevlm-pg-"))
    if run_as:
        entry = pwd.getpwnam(run_as)
        os.chown(datadir, entry.pw_uid, entry.pw_gid)
    subprocess.run(_as_user(run_as, [str(bindir / "initdb"), "-D", str(datadir / "data"), "-U", SUPERUSER,
                                     "--auth=trust", "-E", "UTF8", "--no-sync"]),
                   check=True, capture_output=True, timeout=120)
    port = _free_port()
    options = (f"-p {port} -k {datadir / 'data'} -c listen_addresses=127.0.0.1 -c fsync=off "
               f"-c max_connections=100 -c shared_buffers=32MB")
    subprocess.run(_as_user(run_as, [str(bindir / "pg_ctl"), "-D", str(datadir / "data"), "-o", options, "-w",
                                     "-t", "60", "-l", str(datadir / "server.log"), "start"]),
                   check=True, capture_output=True, timeout=90)
    return PostgresServer(port, datadir, bindir, run_as)


def stop_postgres(server: PostgresServer) -> None:
    subprocess.run(_as_user(server.run_as, [str(server.bindir / "pg_ctl"), "-D", str(server.datadir / "data"),
                                            "-m", "immediate", "-w", "stop"]), capture_output=True, timeout=60)
    shutil.rmtree(server.datadir, ignore_errors=True)

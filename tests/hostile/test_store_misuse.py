"""The store keeps each run once and never writes what it reads (issue 18, item 9): a file imported again is
recognised by its content and stores nothing; migrate counts what it wrote; list, export, report and
`migrate --from` open SQLite read-only (a read-only file works; its sha256 is unchanged); a full disk says
"disk full"; a password never appears in a store error."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from edgevlm.cli import main
from edgevlm.hashing import sha256_file
from edgevlm.store import ResultsStore
from tests.store.store_helpers import V1_DDL, make_record
from tests.servers.fixtures import pg_url, postgres_server  # noqa: F401  (fixtures)


def _run(capsys, *argv) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def _records(tmp_path: Path, name: str, n: int = 2) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps([make_record(i).to_dict() for i in range(n)]))
    return path


def test_importing_the_same_file_twice_stores_it_once(tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    first = _records(tmp_path, "a.json")
    assert _run(capsys, "results", "import", str(first), "--store", str(store))[0] == 0
    copy = tmp_path / "moved-and-renamed.json"
    shutil.copy(first, copy)  # the key is the content, not the file's name
    code, out, _ = _run(capsys, "results", "import", str(copy), "--store", str(store))
    assert code == 0 and "imported 0 run(s)" in " ".join(out.split()) and "already stored" in out
    with ResultsStore(store) as db:
        assert db.count() == (2, 12)


def test_migrate_counts_what_it_wrote(tmp_path, capsys):
    src, dst = tmp_path / "src.sqlite", tmp_path / "dst.sqlite"
    with ResultsStore(src) as db:  # the same run stored twice without a key (as old imports did)
        same = dict(created="2025-01-01T00:00:00Z")
        db.add_runs([make_record(1, **same), make_record(1, **same), make_record(2)])
    code, out, err = _run(capsys, "results", "migrate", "--from", str(src), "--to", str(dst))
    assert code == 0, err
    text = " ".join(out.split())
    assert "copied 2 run(s)" in text and "1 were there already" in text  # main said "copied 3"
    with ResultsStore(dst) as db:
        assert db.count() == (2, 12)


@pytest.fixture
def read_only_dir(tmp_path, tmpfs):
    """A folder nothing can be written into: a read-only tmpfs as root (root ignores file modes), else modes."""
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir()
        yield folder, lambda: (os.chmod(folder, 0o555), [os.chmod(p, 0o444) for p in folder.iterdir()])
        os.chmod(folder, 0o755)
        return
    folder = tmpfs("8m", "ro")
    yield folder, lambda: subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)


@pytest.mark.parametrize("legacy", [False, True], ids=["current-schema", "v1-schema"])
def test_readers_work_on_a_read_only_store_and_change_no_byte(read_only_dir, tmp_path, capsys, legacy):
    folder, freeze = read_only_dir
    store = folder / "results.sqlite"
    if legacy:  # an older schema: read through an upgraded temporary copy, the file itself untouched
        db = sqlite3.connect(store)
        db.executescript(V1_DDL)
        db.close()  # an open file keeps the mount busy
    else:
        with ResultsStore(store) as db:
            db.add_runs([make_record(i) for i in range(3)])
    freeze()
    before = {p.name: sha256_file(p) for p in folder.iterdir()}
    assert _run(capsys, "results", "list", "--store", str(store))[0] == 0
    code, out, err = _run(capsys, "results", "export", "--store", str(store))
    assert code == 0 and json.loads(out), err
    code, out, err = _run(capsys, "results", "migrate", "--from", str(store), "--to", str(tmp_path / "t.sqlite"))
    assert code == 0 and f"copied {1 if legacy else 3} run(s)" in " ".join(out.split()), err
    assert {p.name: sha256_file(p) for p in folder.iterdir()} == before


def test_migrate_from_leaves_a_writable_source_byte_identical(tmp_path, capsys):
    src = tmp_path / "v1.sqlite"
    with sqlite3.connect(src) as db:
        db.executescript(V1_DDL)
    before = sha256_file(src)
    assert _run(capsys, "results", "migrate", "--from", str(src), "--to", str(tmp_path / "t.sqlite"))[0] == 0
    assert _run(capsys, "results", "list", "--store", str(src))[0] == 0
    assert sha256_file(src) == before  # main migrated the source to the newest schema in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.sqlite", "v1.sqlite"]


@pytest.fixture
def full_disk(tmpfs):
    return tmpfs("1m", "small")


def test_full_disk_says_disk_full(full_disk, tmp_path, capsys):
    store = full_disk / "s.sqlite"
    ResultsStore(store).close()
    fd = os.open(full_disk / "filler", os.O_WRONLY | os.O_CREAT)  # the rest of the disk
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    big = tmp_path / "big.json"
    big.write_text(json.dumps(make_record(1, extra={"blob": "x" * 200_000}).to_dict()))
    code, _, err = _run(capsys, "results", "import", str(big), "--store", str(store))
    assert code == 2 and "disk full" in err and "Traceback" not in err, err
    code, _, err = _run(capsys, "results", "import", str(big), "--store", str(full_disk / "new" / "x.sqlite"))
    assert code == 2 and "disk full" in err, err


PASSWORD = "Hunter2pw"


@pytest.mark.parametrize("store", [
    f"postgresq://bob:{PASSWORD}@127.0.0.1/db",          # a mistyped scheme (main echoed the URL)
    f"postgresql://bob:{PASSWORD}@[::1/x",               # an unreadable host (main: traceback)
    f"postgresql://bob:{PASSWORD}@127.0.0.1:99999/db",   # a port out of range
    f"postgresql://bob:{PASSWORD}@127.0.0.1:1/db",       # nobody listens
    f"postgresql://bob:{PASSWORD}@h@st:5432/db",         # an unescaped @ in the password part
])
@pytest.mark.parametrize("command", [["results", "list"], ["results", "export"], ["report", "--baseline", "a",
                                                                                  "--candidate", "b"]])
def test_no_store_error_shows_the_password(capsys, store, command):
    code, out, err = _run(capsys, *command, "--store", store)
    assert code == 2 and PASSWORD not in out + err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) <= 2  # the error line and its hint


def test_no_password_from_a_real_server_error(pg_url, tmp_path, capsys):
    """A real PostgreSQL answering: a database that does not exist, with a password in the URL."""
    from sqlalchemy.engine import make_url

    url = make_url(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    bad = url.set(password=PASSWORD, database="no_such_db").render_as_string(hide_password=False)
    bad = bad.replace("postgresql+psycopg://", "postgresql://", 1)
    rec = _records(tmp_path, "r.json", 1)
    for argv in (["results", "import", str(rec), "--store", bad], ["results", "list", "--store", bad],
                 ["results", "migrate", "--from", str(tmp_path / "none.sqlite"), "--to", bad]):
        code, out, err = _run(capsys, *argv)
        assert code == 2 and PASSWORD not in out + err, err


@pytest.mark.parametrize("argv", [
    ["results", "import", "{rec}", "--store", "/dev/null/x.sqlite"],
    ["results", "migrate", "--from", "{src}", "--to", "/dev/null/x.sqlite"],
    ["results", "list", "--limit", "99999999999999999999", "--store", "{src}"],
    ["results", "list", "--ref", "run:99999999999999999999999", "--store", "{src}"],
    ["results", "list", "--ref", "99999999999999999999999", "--store", "{src}"],
    ["results", "export", "--out", "/dev/null/x.json", "--store", "{src}"],
])
def test_store_inputs_exit_2_in_one_line(tmp_path, argv):
    src = tmp_path / "src.sqlite"
    with ResultsStore(src) as db:
        db.add_run(make_record(1))
    rec = _records(tmp_path, "r.json", 1)
    argv = [a.format(rec=rec, src=src) for a in argv]
    proc = subprocess.run([sys.executable, "-m", "edgevlm", *argv], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert 1 <= len([line for line in proc.stderr.splitlines() if line.strip()]) <= 8  # click usage: a box
    assert "File exists" not in proc.stderr  # /dev/null/x.sqlite: say that /dev/null is not a folder


def _deep(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("extra,needle", [
    ('{"threads": 1000000000000000000000000000000}', "threads"),
    ('{"samples": {"decode_tps": [1' + "0" * 400 + ']}}', "finite number"),
    ('{"extra": ' + _deep(100_000) + "}", "nested too deeply"),   # beyond Python's JSON parser
    ('{"extra": ' + _deep(40) + "}", "nested more than"),          # parses, but no record nests like that
])
def test_hostile_records_exit_2(tmp_path, extra, needle):
    body = make_record(1).to_dict()
    for key in json.loads(extra.replace(_deep(100_000), "1")):
        body.pop(key, None)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(body)[:-1] + ", " + extra[1:])
    proc = subprocess.run([sys.executable, "-m", "edgevlm", "results", "import", str(path), "--store",
                           str(tmp_path / "s.sqlite")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 2 and needle in proc.stderr, proc.stderr

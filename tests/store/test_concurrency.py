"""Several writer processes lose nothing; a writer killed or failing mid-transaction leaves no trace."""
import multiprocessing as mp
import os
import signal
import sqlite3

import pytest

import edgevlm.store.db as store_db
from edgevlm.store import ResultsStore

from store_helpers import make_record

WRITERS, RUNS_EACH = 4, 50


def _writer(location: str, worker: int, start) -> None:
    start.wait()  # all processes open and write at once, including the first-time schema creation
    with ResultsStore(location) as store:
        for i in range(RUNS_EACH):
            store.add_run(make_record(i, branch=f"w{worker}", extra={"worker": worker, "i": i}))


def test_parallel_writers_lose_nothing(store_location):
    # SQLite: the file is not created yet; PostgreSQL: an empty database. Either way the writers race on the
    # migrations too.
    path = store_location
    ctx = mp.get_context("spawn")  # fresh interpreters, like separate bench jobs
    start = ctx.Event()
    procs = [ctx.Process(target=_writer, args=(path, w, start)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with ResultsStore(path) as store:
        runs = store.runs()
        assert store.count() == (WRITERS * RUNS_EACH, WRITERS * RUNS_EACH * 6)  # 3 decode + 3 vit samples each
        seen = {(r.record.extra["worker"], r.record.extra["i"]) for r in runs}
        assert seen == {(w, i) for w in range(WRITERS) for i in range(RUNS_EACH)}
        assert all(len(store.samples(r.id)["decode_tps"]) == 3 for r in runs)


def _stalling_writer(path: str, ready) -> None:
    """Insert a run row and part of its samples, then hang inside the transaction until killed."""
    def insert_then_stall(db, run_id, samples):
        first = next(iter(samples))
        db.exec_driver_sql("INSERT INTO samples (run_id, metric, rep, value, unit) VALUES (?,?,0,1.0,'x')",
                           (run_id, first))
        ready.set()
        signal.pause()
    store_db._insert_samples = insert_then_stall
    ResultsStore(path).add_run(make_record(99, branch="doomed"))


def test_writer_killed_mid_transaction_leaves_store_consistent(tmp_path):
    path = str(tmp_path / "s.sqlite")
    with ResultsStore(path) as store:
        store.add_run(make_record(1))
    ctx = mp.get_context("fork")  # fork keeps the monkeypatch inside the child only
    ready = ctx.Event()
    child = ctx.Process(target=_stalling_writer, args=(path, ready))
    child.start()
    assert ready.wait(30), "child never reached the middle of its transaction"
    os.kill(child.pid, signal.SIGKILL)
    child.join(10)
    assert child.exitcode == -signal.SIGKILL
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with ResultsStore(path) as store:
        assert store.count() == (1, 6)  # only the committed run
        assert store.resolve_ref("main")[0].record.commit == make_record(1).commit
        store.add_run(make_record(2))  # the lock died with the writer: the store is writable again
        assert store.count() == (2, 12)
    raw = sqlite3.connect(path)
    orphans = raw.execute("SELECT count(*) FROM samples WHERE run_id NOT IN (SELECT id FROM runs)").fetchone()[0]
    assert orphans == 0


def test_exception_inside_transaction_rolls_back_every_run(store, monkeypatch):
    calls = []

    def fail_on_second(db, run_id, samples):
        calls.append(run_id)
        if len(calls) == 2:
            raise RuntimeError("disk on fire")
        real(db, run_id, samples)
    real = store_db._insert_samples
    monkeypatch.setattr(store_db, "_insert_samples", fail_on_second)
    with pytest.raises(RuntimeError):
        store.add_runs([make_record(1), make_record(2), make_record(3)])
    assert store.count() == (0, 0)
    monkeypatch.setattr(store_db, "_insert_samples", real)
    assert store.add_runs([make_record(4)]) and store.count() == (1, 6)

"""Item 4: nothing measured is lost.

Before: the store was opened only after the whole series, so an unreachable PostgreSQL threw every repetition
away; `--store /dev/null/x.sqlite` ended in a traceback after the runs; Ctrl-C after 4 of 20 runs stored nothing.
Now the store and --json are opened and checked before the first repetition, a store failing later leaves a
spool file that `edgevlm results import` stores, and an interrupt stores the finished runs marked partial.
"""
from __future__ import annotations

import json
import re
import signal
import sys

import pytest

from edgevlm.store import ResultsStore
from tests.misuse.conftest import one_line_error, wait_for


@pytest.mark.parametrize("where", [
    ("--store", "/dev/null/x.sqlite"),
    ("--store", "postgresql://bob:Hunter2pw@unreachable.invalid/results"),
    ("--json", "/dev/null/x.json"),
    ("--json", "/no/such/folder/records.json"),
])
def test_a_bad_destination_fails_before_the_first_run(env, where):
    result = env.run(*env.bench_args(env.model(), *where))
    assert result.returncode in (2, 3), result.stderr
    message = one_line_error(result)
    assert len(message.splitlines()) == 1, message
    assert "Hunter2pw" not in result.stderr + result.stdout          # the password never shows
    assert env.started() == 0                                        # no repetition was spent


def test_a_store_failing_after_the_runs_spools_them(env):
    """The wrapper breaks the store while the bench runs (another program drops its samples table, as a broken
    migration or a lost server would leave it); the records land in a spool file that `results import`
    stores."""
    model = env.model()
    wrapper = env.bundle / "edgevlm-run"
    inner = env.bundle / "edgevlm-run.logged"
    wrapper.rename(inner)
    drop = f"import sqlite3; c = sqlite3.connect('{env.store}'); c.execute('DROP TABLE IF EXISTS samples'); c.commit()"
    wrapper.write_text(f"#!/bin/sh\n{sys.executable} -c \"{drop}\"\nexec {inner} \"$@\"\n")
    wrapper.chmod(0o755)
    result = env.run(*env.bench_args(model))
    assert result.returncode == 2, result.stderr
    spool = re.search(r"edgevlm results import (\S+\.json)", result.stderr.replace("\n", " "))
    assert spool, result.stderr
    fresh = env.root / "fresh.sqlite"
    imported = env.run("results", "import", spool.group(1), "--store", str(fresh))
    assert imported.returncode == 0, imported.stderr
    with ResultsStore(fresh) as db:
        [run] = db.runs()
        assert len(db.samples(run.id)["decode_tps"]) == 2


def test_ctrl_c_stores_the_finished_runs_as_partial(env):
    model = env.model()
    bench = env.start(*env.bench_args(model, "--json", str(env.root / "out.json"), repeat=20))
    wait_for(lambda: len(env.runs()) >= 3, what="three finished runs")
    bench.send_signal(signal.SIGINT)
    _, err = bench.communicate(timeout=60)
    assert bench.returncode == 130, err
    [record] = json.loads((env.root / "out.json").read_text())
    assert record["partial"] is True and "interrupted (SIGINT)" in record["extra"]["error"]
    finished = len(record["samples"]["decode_tps"]["values"])
    assert 3 <= finished < 20
    with ResultsStore(env.store) as db:
        [run] = db.runs()
        assert run.record.partial and len(db.samples(run.id)["decode_tps"]) == finished

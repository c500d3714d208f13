"""Faults in a real two-node lab (both phones of one profile): a host that dies mid-matrix, a phone that drops
mid-cell, Ctrl-C. The device binary is the stand-in edgevlm-run (tests/fakes/standin_run.py: same options,
fixed timings), because what is under test is placement, retries and storing, not the numbers."""
from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter

import psutil
import pytest

from edgevlm.store import ResultsStore

from tests.fakes.standin_run import random_model, standin_bundle
from tests.lab.conftest import EDGEVLM, start_lab, workdir_token, write_matrix

pytestmark = pytest.mark.slow


@pytest.fixture
def same_profile_lab(lab_dirs):
    lab = start_lab(lab_dirs, ("fakephone", "fakephone"))
    yield lab
    lab.stop()


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    root = tmp_path_factory.mktemp("standin")
    return random_model(root / "tiny", 40_000, 10_000), root


def _bundle(root, sleep_s: float):
    return standin_bundle(root / f"bundle-{sleep_s}", sleep_s=sleep_s).path


def _start_run(lab, matrix, store):
    return subprocess.Popen([*EDGEVLM, "lab", "run", str(matrix), "--address", lab.address, "--store", store],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _runs_on(phone) -> int:
    return sum("edgevlm-run" in c and "-m " in c for c in phone.commands)


def test_dead_host_cells_finish_elsewhere_and_are_stored_once(same_profile_lab, standin, pg_url, tmp_path):
    lab = same_profile_lab
    model, root = standin
    matrix = write_matrix(tmp_path / "m.toml", [model], ["fakephone"], repeats=6, bundle=_bundle(root, 1.5),
                          branch="kill", commit="eeee5555", extra="")
    run = _start_run(lab, matrix, pg_url)
    worker = lab.nodes[1]
    _wait(lambda: _runs_on(worker.phone) >= 2, 300, "the worker's phone to start its second run")
    lab.kill_node(worker)
    out = run.communicate(timeout=600)[0]
    with ResultsStore(pg_url) as store:
        runs = store.runs(branch="kill")
    cells = Counter((r.record.extra["lab"]["cell"], r.record.partial) for r in runs)
    complete = {cell for (cell, partial) in cells if not partial}
    assert all(n == 1 for (cell, partial), n in cells.items() if not partial), cells  # never stored twice
    failed = out.count("failed:")
    assert len(complete) + failed == 6, out
    assert run.returncode == (1 if failed else 0), out
    # the head took over: every cell that finished after the kill ran on the head's phone
    assert {r.record.extra["lab"]["serial"] for r in runs} <= {lab.nodes[0].serial, worker.serial}
    assert len(complete) >= 5, out  # at most the cell that died with its host may be reported failed


def test_phone_drop_mid_cell_keeps_partial_and_retries_on_the_other_phone(same_profile_lab, standin, pg_url,
                                                                          tmp_path):
    lab = same_profile_lab
    model, root = standin
    matrix = write_matrix(tmp_path / "d.toml", [model], ["fakephone"], repeats=2, bundle=_bundle(root, 1.0),
                          branch="drop", commit="ffff6666", extra="")
    matrix.write_text(matrix.read_text().replace("reps = 2", "reps = 3"))
    run = _start_run(lab, matrix, pg_url)
    dropped = lab.nodes[1]
    _wait(lambda: _runs_on(dropped.phone) >= 2, 300, "the second repetition on the worker's phone")
    dropped.phone.__exit__(None, None, None)      # USB cable out: listener closed, every connection dropped
    out = run.communicate(timeout=600)[0]
    assert run.returncode == 0, out
    with ResultsStore(pg_url) as store:
        runs = store.runs(branch="drop", with_samples=True)
    partial = [r for r in runs if r.record.partial]
    assert len(partial) >= 1 and all(r.record.extra["lab"]["serial"] == dropped.serial for r in partial)
    assert all(1 <= len(r.record.samples.get("decode_tps", [])) < 3 for r in partial)  # what ran before the drop
    complete = [r for r in runs if not r.record.partial]
    assert sorted(r.record.extra["lab"]["cell"] for r in complete) == [0, 1]
    retried = {r.record.extra["lab"]["cell"] for r in partial}
    assert all(r.record.extra["lab"]["serial"] == lab.nodes[0].serial
               for r in complete if r.record.extra["lab"]["cell"] in retried)
    assert "retry" in out


def _device_processes(token: str) -> list[str]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        line = " ".join(proc.info["cmdline"] or [])
        if token in line and "edgevlm-run" in line:
            found.append(line)
    return found


def test_ctrl_c_cancels_queue_and_ends_device_processes(same_profile_lab, standin, pg_url, tmp_path, lab_dirs):
    lab = same_profile_lab
    model, root = standin
    matrix = write_matrix(tmp_path / "c.toml", [model], ["fakephone"], repeats=6, bundle=_bundle(root, 60.0),
                          branch="cancel", commit="abab7777", extra="")
    run = _start_run(lab, matrix, pg_url)
    token = workdir_token(lab_dirs)
    _wait(lambda: all(_runs_on(n.phone) == 1 for n in lab.nodes) and _device_processes(token), 300,
          "a run on both phones")
    run.send_signal(signal.SIGINT)
    out = run.communicate(timeout=120)[0]
    assert run.returncode == 130, out
    deadline = time.monotonic() + 30
    while _device_processes(token) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _device_processes(token) == []  # the 60 s runs were killed on the phones, not left running
    started = sum(_runs_on(n.phone) for n in lab.nodes)
    assert started == 2  # the 4 queued cells never started
    with ResultsStore(pg_url) as store:
        assert store.runs(branch="cancel") == []

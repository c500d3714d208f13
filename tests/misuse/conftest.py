"""Misuse of bench / run / build as careless users, scripts and CI jobs do it (issue 18 items 1-5).

Everything goes through the real `edgevlm` command in a subprocess (its exit code, its one-line errors, its
signal handling are what is under test) with a stand-in edgevlm-run (tests/fakes/standin_run.py: the real
option table, fixed timings) that also logs when each run starts and ends, so overlapping runs can be seen.
Each test has its own lock folder, temp folder, data folder and store: nothing is shared with a developer's.
"""
from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.devices.conftest import adb_server, jetson, phone  # noqa: F401  (fixtures: fake phone, ssh host)
from tests.fakes.standin_run import random_model, standin_bundle

EDGEVLM = [sys.executable, "-m", "edgevlm"]

# wraps the stand-in: one "start PID T MODEL" and one "end PID T" line per run in the log; like the real
# edgevlm-run it refuses a model, mmproj or image file that does not exist (from its working directory)
LOGGING_RUN = """#!/bin/sh
model=""; prev=""
for a in "$@"; do
  [ "$prev" = "-m" ] && model=$a
  case "$prev" in -m|--mmproj|--image) [ -f "$a" ] || {{ echo "error: $a does not exist" >&2; exit 2; }};; esac
  prev=$a
done
echo "start $$ $(date +%s.%N) $model" >> {log}
{real} "$@"
rc=$?
echo "end $$ $(date +%s.%N)" >> {log}
exit $rc
"""


class Env:
    """A private environment for edgevlm commands, with a stand-in bundle and random-byte models."""

    def __init__(self, root: Path, sleep_s: float = 0.3):
        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True)
        self.log = root / "runs.log"
        self.bundle = make_bundle(root / "bundle", self.log, sleep_s)
        self.store = root / "results.sqlite"
        self.vars = {**os.environ, "EDGEVLM_LOCK_DIR": str(root / "locks"), "TMPDIR": str(self.tmp),
                     "XDG_DATA_HOME": str(root / "data"), "EDGEVLM_STORE": str(self.store),
                     "EDGEVLM_BUILD_DIR": str(root / "build"), "PYTHONPATH": str(Path(__file__).parents[2])}

    def model(self, name: str = "model", quant: str = "Q8_0") -> Path:
        folder = random_model(self.root / name, 1000, 1000)
        if quant != "Q8_0":
            (folder / "tiny-Q8_0.gguf").rename(folder / f"tiny-{quant}.gguf")
        return folder

    def bench_args(self, model: Path, *extra: str, repeat: int = 2) -> list[str]:
        return ["bench", str(model), "--device", "host", "--bundle", str(self.bundle), "--no-image",
                "--repeat", str(repeat), "--warmup", "0", "--gen", "4", "--prompt-tokens", "16", *extra]

    def run(self, *args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([*EDGEVLM, *args], capture_output=True, text=True, env=self.vars,
                              cwd=cwd or self.root, timeout=timeout)

    def start(self, *args: str, cwd: Path | None = None) -> subprocess.Popen:
        return subprocess.Popen([*EDGEVLM, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.vars, cwd=cwd or self.root)

    def runs(self) -> list[tuple[float, float, str]]:
        """(start, end, model) of each finished run, from the log."""
        starts, out = {}, []
        for line in self.log.read_text().splitlines() if self.log.exists() else []:
            kind, pid, t, *rest = line.split()
            if kind == "start":
                starts[pid] = (float(t), rest[0] if rest else "")
            elif pid in starts:
                began, model = starts.pop(pid)
                out.append((began, float(t), model))
        return out

    def started(self) -> int:
        return sum(1 for line in self.log.read_text().splitlines() if line.startswith("start")) \
            if self.log.exists() else 0


def make_bundle(folder: Path, log: Path, sleep_s: float) -> Path:
    bundle = standin_bundle(folder, "host", sleep_s=sleep_s, cmake_defs={})
    real = folder / "edgevlm-run.standin"
    (folder / "edgevlm-run").rename(real)
    (folder / "edgevlm-run").write_text(LOGGING_RUN.format(log=log, real=real))
    (folder / "edgevlm-run").chmod(0o755)
    return bundle.path


@pytest.fixture
def env(tmp_path) -> Env:
    return Env(tmp_path)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The command failed with a message and no traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("  hint:")]
    assert lines, result.stderr
    return "\n".join(lines)


def processes_mentioning(marker: str) -> list[str]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            line = " ".join(proc.info["cmdline"] or [])
        except psutil.Error:
            continue
        if marker in line and proc.pid != os.getpid():
            found.append(f"{proc.pid}: {line}")
    return found


def wait_gone(marker: str, seconds: float = 15) -> list[str]:
    deadline = time.monotonic() + seconds
    while (left := processes_mentioning(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def wait_for(predicate, seconds: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def signal_and_check(proc: subprocess.Popen, marker: str, sig: int) -> None:
    """Once a process named by `marker` runs, send `sig` to proc: it exits 128 + sig, says no traceback, and
    leaves nothing named by the marker anywhere on this machine (the fake phone's and ssh host's included)."""
    try:
        wait_for(lambda: processes_mentioning(f"sleep {marker}"), seconds=120, what="the stand-in to run")
    except AssertionError:
        proc.kill()
        raise AssertionError(proc.communicate()[1]) from None
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err
    assert "Traceback" not in err, err
    assert wait_gone(marker) == []


def unique_sleep() -> str:
    """A duration no other process sleeps, written as a shell gets it from Python (str of the float)."""
    return str(random.randint(300, 900) + random.randint(1, 999) / 1000)

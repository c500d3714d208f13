"""convert's publish step is recoverable (issue 18, item 8): `convert` is SIGKILLed after each step of the
publish (every rename edgevlm.publish makes: journal, each file moved aside, each file moved in, the commit
mark); what the next run does first (recover the dead run's staging folder) then leaves OUT fully old or fully
new, compared by sha256 of every file. On main the next run deleted `.previous` with the old GGUF in it."""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from edgevlm.hashing import sha256_file

# The child: a real convert, with edgevlm.publish's os.replace counted; after the KILL_AT-th rename the
# process SIGKILLs itself, which is what a crash or the OOM killer does between two steps.
CHILD = r"""
import os, signal, sys, types
import edgevlm.publish as publish
kill_at, seen = int(sys.argv[4]), [0]
def replace(src, dst):
    os.replace(src, dst)
    seen[0] += 1
    if seen[0] == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
publish.os = types.SimpleNamespace(**{k: getattr(os, k) for k in dir(os) if not k.startswith("__")})
publish.os.replace = replace
from edgevlm.convert import convert
convert(sys.argv[1], sys.argv[2], quant="f16", mmproj_quant="f16", name=sys.argv[3])
print("renames", seen[0])
"""


def _state(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): sha256_file(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def _convert(ckpt: Path, out: Path, kill_at: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CHILD, str(ckpt), str(out), "m", str(kill_at)],
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_sigkill_after_each_publish_step_leaves_old_or_new(synth_ckpt, tmp_path):
    from edgevlm.convert import _remove_stale_staging

    old_ckpt, new_ckpt = synth_ckpt("tiny-v2", seed=0), synth_ckpt("tiny-v2", seed=1)
    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    assert _convert(old_ckpt, old_dir, 0).returncode == 0
    done = _convert(new_ckpt, new_dir, 0)
    assert done.returncode == 0, done.stderr
    old, new = _state(old_dir), _state(new_dir)
    assert set(old) == set(new) and len(old) == 3 and all(old[n] != new[n] for n in old)  # LLM, mmproj, manifest
    assert int(done.stdout.split()[-1]) == 1 + 3 + 1  # into an empty folder: journal, 3 in, commit mark
    renames = 1 + 3 + 3 + 1  # over the old set: journal, 3 aside (same names), 3 in, commit mark
    outcomes = []
    for kill_at in range(1, renames + 1):
        work = tmp_path / f"work-{kill_at}"
        shutil.copytree(old_dir, work)
        proc = _convert(new_ckpt, work, kill_at)
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        _remove_stale_staging(work)  # what the next `edgevlm convert` into WORK does before anything else
        after = _state(work)
        assert after in (old, new), f"killed after rename {kill_at}: {sorted(after)}"
        outcomes.append("new" if after == new else "old")
    # before the commit mark the old set comes back; once it is written the new set stands
    assert outcomes == ["old"] * (renames - 1) + ["new"]


@pytest.mark.slow
def test_next_full_run_after_a_kill_mid_publish_publishes_the_new_set(synth_ckpt, tmp_path):
    old_ckpt, new_ckpt = synth_ckpt("tiny-v2", seed=0), synth_ckpt("tiny-v2", seed=1)
    ref, work = tmp_path / "ref", tmp_path / "work"
    assert _convert(new_ckpt, ref, 0).returncode == 0
    assert _convert(old_ckpt, work, 0).returncode == 0
    assert _convert(new_ckpt, work, 5).returncode == -signal.SIGKILL  # after the first file moved in
    assert _convert(new_ckpt, work, 0).returncode == 0
    assert _state(work) == _state(ref)

"""No lost work: a failed run leaves OUT exactly as it was, a killed run's staging folder is cleaned up by
the next run, every file is fsynced before the rename that publishes it."""
from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest

import edgevlm.convert as convert_mod
import edgevlm.publish as publish_mod
from edgevlm.convert import convert
from edgevlm.errors import OutputError


def _state(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture
def previous(tiny_v2_ckpt, tmp_path):
    out = tmp_path / "out"
    convert(tiny_v2_ckpt, out, quant="f16", mmproj_quant="f16")
    return out, _state(out)


def test_failure_while_writing_keeps_previous_outputs(tiny_v2_ckpt, previous, monkeypatch):
    out, before = previous

    def full_disk(*a, **k):
        raise OutputError("cannot write mmproj: the disk is full")

    monkeypatch.setattr(convert_mod, "write_mmproj_gguf", full_disk)
    with pytest.raises(OutputError, match="disk is full"):
        convert(tiny_v2_ckpt, out, quant="f16", mmproj_quant="f16")
    assert _state(out) == before, "the previous run's files must be exactly as they were"


def test_failure_while_publishing_puts_previous_outputs_back(tiny_v2_ckpt, previous, monkeypatch):
    """The second of three moves into OUT fails: the first is taken back and the old files restored."""
    out, before = previous
    real = os.replace
    moves = {"n": 0}

    def flaky(src, dst):
        if Path(dst).parent == out and ".edgevlm-staging-" in str(src) and ".previous" not in str(src):
            moves["n"] += 1
            if moves["n"] == 2:
                raise OSError(errno.EIO, "Input/output error")
        return real(src, dst)

    monkeypatch.setattr(convert_mod.os, "replace", flaky)
    with pytest.raises(OutputError, match="Input/output error"):
        convert(tiny_v2_ckpt, out, quant="f16", mmproj_quant="f16")
    assert moves["n"] == 2
    assert _state(out) == before


def test_stale_staging_of_a_killed_run_is_removed(tiny_v2_ckpt, previous):
    out, _ = previous
    dead = out / ".edgevlm-staging-999999999"  # no such process
    dead.mkdir()
    (dead / "half-written.gguf").write_bytes(b"\0" * 1000)
    convert(tiny_v2_ckpt, out, quant="f16", mmproj_quant="f16")
    assert not dead.exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "no staging folder may remain"


def test_every_output_is_fsynced_before_it_is_published(tiny_v2_ckpt, tmp_path, monkeypatch):
    synced: list[str] = []
    # the publish step (edgevlm/publish.py) fsyncs every staged file before the first rename
    real = publish_mod.fsync_file
    monkeypatch.setattr(publish_mod, "fsync_file", lambda p: (synced.append(Path(p).name), real(p)))
    result = convert(tiny_v2_ckpt, tmp_path / "out", quant="f16", mmproj_quant="f16")
    # every published output is among the synced files (the journal's temp file is synced too)
    assert {result.llm.name, result.mmproj.name, "manifest.json"} <= set(synced)

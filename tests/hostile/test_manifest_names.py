"""manifest.json names are confined to their folder in every reader (issue 18, item 6): the runtime/bench
reader (edgevlm.runtime.model_dir) and verify's. A crafted manifest naming ../../etc/passwd, an absolute path
or a link out of the folder is a one-line exit-2 error; /etc/passwd is never opened."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgevlm.errors import EdgeVLMError
from edgevlm.artifact import find_model
from edgevlm.verify import verify

EVIL = ["../../../../etc/passwd", "/etc/passwd", "sub/../../x.gguf", "", None, 7, ["a"]]


def _folder(tmp_path: Path, name) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model-Q4_0.gguf").write_bytes(b"GGUF")
    (folder / "manifest.json").write_text(json.dumps({
        "files": {"llm": {"name": name}, "mmproj": None}, "source": {"config_sha256": "0" * 64}}))
    return folder


@pytest.mark.parametrize("name", EVIL)
def test_runtime_reader_refuses_names_outside(tmp_path, name):
    with pytest.raises(EdgeVLMError, match="not a file inside|malformed"):
        find_model(_folder(tmp_path, name))


@pytest.mark.parametrize("name", EVIL)
def test_verify_refuses_names_outside_before_reading_the_checkpoint(tmp_path, name):
    # the checkpoint path does not exist: the manifest must be refused first
    with pytest.raises(EdgeVLMError, match="not a file inside|not a manifest"):
        verify(_folder(tmp_path, name), tmp_path / "no-checkpoint")


def test_link_out_of_the_folder_is_refused(tmp_path):
    folder = _folder(tmp_path, "linked.gguf")
    (folder / "linked.gguf").symlink_to("/etc/passwd")
    with pytest.raises(EdgeVLMError, match="not a file inside"):
        find_model(folder)


def test_plain_names_still_work(tmp_path):
    folder = _folder(tmp_path, "model-Q4_0.gguf")
    assert find_model(folder).llm == folder / "model-Q4_0.gguf"


def test_cli_says_one_line_and_exits_2(tmp_path):
    import subprocess
    import sys

    folder = _folder(tmp_path, "../../../../etc/passwd")
    proc = subprocess.run([sys.executable, "-m", "edgevlm", "verify", str(folder), "--checkpoint", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "not a file inside" in proc.stderr

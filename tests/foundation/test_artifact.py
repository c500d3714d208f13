"""The one model-folder rule (edgevlm.artifact) and the hash cache: manifest first, --quant, the documented rule for
a folder without a manifest, and each local file read to hash at most once while unchanged."""
from __future__ import annotations

import hashlib
import json
import os

import pytest

import edgevlm.hashing
from edgevlm.artifact import find_model, output_names
from edgevlm.errors import InputNotFound
from edgevlm.hashing import FileHashes


def _write(folder, name, data: bytes):
    (folder / name).write_bytes(data)
    return folder / name


def _manifest(folder, llm, mmproj):
    entry = lambda p: {"name": p.name, "size": p.stat().st_size, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
    (folder / "manifest.json").write_text(json.dumps({"files": {"llm": entry(llm), "mmproj": entry(mmproj) if mmproj
                                                                else None}, "vision_tower": {"repo": "x"}}))


@pytest.fixture
def reads(monkeypatch):
    """Every real read of a file to hash it, by path (a spy around the real function)."""
    seen: list[str] = []
    real = edgevlm.hashing.sha256_file

    def spy(path, *args, **kwargs):
        seen.append(os.path.basename(path))
        return real(path, *args, **kwargs)
    monkeypatch.setattr(edgevlm.hashing, "sha256_file", spy)
    return seen


def test_manifest_names_the_files_and_its_hashes_are_used(tmp_path, reads):
    llm = _write(tmp_path, "m-Q4_K_M.gguf", b"llm" * 1000)
    mm = _write(tmp_path, "mmproj-m-F16.gguf", b"mm" * 1000)
    _write(tmp_path, "m-Q8_0.gguf", b"other")            # a second quant: the manifest decides without --quant
    _manifest(tmp_path, llm, mm)
    model = find_model(tmp_path)
    assert (model.llm, model.mmproj, model.name, model.quant) == (llm, mm, "m", "Q4_K_M")
    assert model.vision_tower == {"repo": "x"}
    assert model.hashes() == {p.name: "sha256:" + hashlib.sha256(p.read_bytes()).hexdigest() for p in (llm, mm)}
    assert reads == []                                     # the manifest's hashes: no GGUF read to hash it


def test_a_file_changed_after_the_manifest_is_hashed_for_real(tmp_path, reads):
    llm = _write(tmp_path, "m-F16.gguf", b"a" * 64)
    _manifest(tmp_path, llm, None)
    llm.write_bytes(b"b" * 64)                             # same size, new content, newer than the manifest
    later = (tmp_path / "manifest.json").stat().st_mtime_ns + 10**9
    os.utime(llm, ns=(later, later))
    assert find_model(tmp_path).hashes() == {"m-F16.gguf": "sha256:" + hashlib.sha256(b"b" * 64).hexdigest()}
    assert reads == ["m-F16.gguf"]


def test_quant_picks_another_llm_of_the_folder(tmp_path):
    llm = _write(tmp_path, "m-Q4_K_M.gguf", b"1")
    other = _write(tmp_path, "m-Q8_0.gguf", b"2")
    mm = _write(tmp_path, "mmproj-m-F16.gguf", b"3")
    _manifest(tmp_path, llm, mm)
    model = find_model(tmp_path, "q8_0")                   # any case: convert's --quant q8_0 writes -Q8_0
    assert (model.llm, model.quant, model.mmproj) == (other, "Q8_0", mm)


def test_folder_without_manifest_one_documented_rule(tmp_path):
    llm = _write(tmp_path, "x-F16.gguf", b"1")
    _write(tmp_path, "mmproj-other-F16.gguf", b"2")
    mm = _write(tmp_path, "mmproj-x-Q8_0.gguf", b"3")
    model = find_model(tmp_path)
    assert (model.llm, model.mmproj, model.manifest) == (llm, mm, None)   # the mmproj named after the LLM wins
    _write(tmp_path, "x-Q4_0.gguf", b"4")
    with pytest.raises(InputNotFound, match="expected exactly one LLM GGUF"):
        find_model(tmp_path)
    assert find_model(tmp_path, "Q4_0").llm.name == "x-Q4_0.gguf"


def test_output_names_are_read_back(tmp_path):
    llm_name, mm_name = output_names("tiny", "q4_k_m", "f16", True)
    _write(tmp_path, llm_name, b"1")
    _write(tmp_path, mm_name, b"2")
    model = find_model(tmp_path)
    assert (model.name, model.quant, model.mmproj.name) == ("tiny", "Q4_K_M", "mmproj-tiny-F16.gguf")


def test_file_hashes_read_each_file_once_while_unchanged(tmp_path, reads):
    f = _write(tmp_path, "big.bin", b"x" * 4096)
    cache = FileHashes()
    first = cache.sha256(f)
    assert cache.sha256(f) == first and reads == ["big.bin"]       # the second ask reads nothing
    f.write_bytes(b"y" * 4097)                                     # changed (size): read again, new hash
    assert cache.sha256(f) == hashlib.sha256(b"y" * 4097).hexdigest() and reads == ["big.bin", "big.bin"]

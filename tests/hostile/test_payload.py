"""The lab's payloads are exact (issue 18, item 6): the unpacked path is the content hash, a failed unpack is an
error, an empty folder and links out of the folder are refused at submission, names are confined. Real Ray
(a one-CPU local instance on 127.0.0.1) carries the bytes, as in the lab."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from edgevlm.errors import LabError
from edgevlm.lab import payload as pl


@pytest.fixture(scope="module")
def ray():
    from edgevlm.lab.rayenv import import_ray, keep_loopback

    ray = import_ray()
    keep_loopback()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # else a local ray.init writes ~/.ray/auth_token
    ray.init(num_cpus=1, include_dashboard=False, logging_level="ERROR", log_to_driver=False,
             _node_ip_address="127.0.0.1")
    yield ray
    ray.shutdown()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("EDGEVLM_LAB_CACHE", str(root))
    return root


def _model(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "model-Q4_0.gguf").write_bytes(b"GGUF llm bytes")
    (folder / "mmproj-model-F16.gguf").write_bytes(b"GGUF mmproj bytes")
    return folder


def _tree(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): (p.readlink().as_posix() if p.is_symlink() else p.read_bytes())
            for p in sorted(folder.rglob("*")) if p.is_symlink() or p.is_file()}


def test_same_files_other_name_share_one_cache_entry_that_exists(ray, cache, tmp_path):
    a = pl.put_folder(ray, _model(tmp_path / "modelA"))
    b = pl.put_folder(ray, _model(tmp_path / "modelB"))
    assert a.digest == b.digest and (a.name, b.name) == ("modelA", "modelB")  # the name is metadata only
    first = pl.materialize(ray, a)
    second = pl.materialize(ray, b)  # on main: .../<sha>/modelB, which did not exist
    assert first == second == cache / "payloads" / a.digest
    assert _tree(second) == _tree(tmp_path / "modelB")


def test_empty_folder_is_refused_at_submission(ray, tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(LabError, match="holds no files"):
        pl.put_folder(ray, tmp_path / "empty")


def test_link_out_of_the_folder_is_refused(ray, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for workers")
    folder = _model(tmp_path / "model")
    (folder / "leak.gguf").symlink_to(secret)
    with pytest.raises(LabError, match="outside"):
        pl.put_folder(ray, folder)
    (folder / "leak.gguf").unlink()
    (folder / "dir").symlink_to(tmp_path)  # a linked folder out of it, too
    with pytest.raises(LabError, match="outside"):
        pl.put_folder(ray, folder)


def test_links_inside_the_folder_ship_as_links(ray, cache, tmp_path):
    folder = _model(tmp_path / "bundle")
    (folder / "libllama.so.0.5.0").write_bytes(b"\x7fELF")
    (folder / "libllama.so.0").symlink_to("libllama.so.0.5.0")
    (folder / "abs.so").symlink_to(folder / "libllama.so.0.5.0")  # absolute, but inside
    out = pl.materialize(ray, pl.put_folder(ray, folder))
    assert (out / "libllama.so.0").is_symlink() and os.readlink(out / "libllama.so.0") == "libllama.so.0.5.0"
    assert os.readlink(out / "abs.so") == "libllama.so.0.5.0"  # made relative, so it stays in the cache copy
    assert (out / "abs.so").read_bytes() == b"\x7fELF"


def test_failed_unpack_is_an_error_and_leaves_nothing(ray, cache, tmp_path):
    payload = pl.put_folder(ray, _model(tmp_path / "model"))
    cache.mkdir()
    (cache / "payloads").write_text("a file where the cache folder goes")  # unwritable, as root too
    with pytest.raises(LabError, match="could not unpack"):
        pl.materialize(ray, payload)
    assert [p.name for p in cache.iterdir()] == ["payloads"]


def test_unpack_onto_a_file_in_the_way_is_an_error(ray, cache, tmp_path):
    payload = pl.put_folder(ray, _model(tmp_path / "model"))
    (cache / "payloads").mkdir(parents=True)
    (cache / "payloads" / payload.digest).write_text("a file where the folder goes")
    with pytest.raises(LabError):
        pl.materialize(ray, payload)  # on main: the failed rename was swallowed and a missing path returned


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "a/../../b", "", "a//b"])
def test_names_are_confined_when_unpacked(ray, cache, name):
    files = {name: (0o644, b"x")}
    payload = pl.Payload("evil", pl.payload_digest(files, {}), [ray.put((files, {}))])
    with pytest.raises(LabError, match="not a name inside"):
        pl.materialize(ray, payload)
    assert not (cache / "payloads" / payload.digest).exists()


def test_link_leaving_the_folder_is_refused_when_unpacked(ray, cache):
    files = {"a.gguf": (0o644, b"x")}
    links = {"b.gguf": "../../../etc/passwd"}
    payload = pl.Payload("evil", pl.payload_digest(files, links), [ray.put((files, links))])
    with pytest.raises(LabError, match="leaves the folder"):
        pl.materialize(ray, payload)


def test_content_other_than_the_hash_is_refused(ray, cache):
    files = {"a.gguf": (0o644, b"x")}
    payload = pl.Payload("m", "0" * 64, [ray.put((files, {}))])
    with pytest.raises(LabError, match="other content"):
        pl.materialize(ray, payload)

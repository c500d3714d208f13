"""The pinned llama.cpp source: checksum verified before extraction, extraction atomic, pin in one place."""
from __future__ import annotations

import hashlib
import io
import tarfile

import pytest

from edgevlm.toolchain import pin, source
from edgevlm.errors import BuildError, NativeNotBuilt


def test_checksum_mismatch_is_refused(tmp_path, monkeypatch):
    fake = tmp_path / pin.SDIST_FILENAME
    fake.write_bytes(b"not the sdist")
    monkeypatch.setenv("EDGEVLM_LLAMA_SDIST", str(fake))
    monkeypatch.setenv("EDGEVLM_BUILD_DIR", str(tmp_path / "build"))
    with pytest.raises(BuildError, match="expected 832db069"):
        source.ensure_source()
    assert not (tmp_path / "build" / "src").exists(), "nothing may be extracted from an unverified archive"


def test_missing_override_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEVLM_LLAMA_SDIST", str(tmp_path / "nope.tar.gz"))
    monkeypatch.setenv("EDGEVLM_BUILD_DIR", str(tmp_path / "build"))
    with pytest.raises(BuildError, match="does not exist"):
        source.ensure_sdist()


def test_extracts_only_the_vendored_tree(tmp_path, monkeypatch):
    """A synthetic archive with the sdist's layout: only vendor/llama.cpp lands, under the commit's name."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in ((f"{pin.SDIST_LLAMA_CPP_DIR}/CMakeLists.txt", b"project(x)"),
                           ("llama_cpp_python-0.3.36/setup.py", b"print('not extracted')")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    archive = tmp_path / pin.SDIST_FILENAME
    archive.write_bytes(buf.getvalue())
    monkeypatch.setattr(pin, "SDIST_SHA256", hashlib.sha256(buf.getvalue()).hexdigest())
    monkeypatch.setenv("EDGEVLM_LLAMA_SDIST", str(archive))
    monkeypatch.setenv("EDGEVLM_BUILD_DIR", str(tmp_path / "build"))
    tree = source.ensure_source()
    assert tree.name == f"llama.cpp-{pin.LLAMA_CPP_COMMIT}"
    assert (tree / "CMakeLists.txt").read_bytes() == b"project(x)"
    assert not list(tmp_path.glob("build/src/**/setup.py"))
    assert source.ensure_source() == tree  # stamped: second call does not re-extract


def test_recorded_checksum_matches_the_downloaded_sdist():
    """The archive the host build used is the one whose checksum is committed."""
    archive = source.build_root() / "downloads" / pin.SDIST_FILENAME
    if not archive.exists():
        pytest.skip("sdist not downloaded in this checkout (make native downloads it)")
    assert source.sha256_file(archive) == pin.SDIST_SHA256


def test_llama_env_refuses_missing_build(tmp_path, monkeypatch):
    from edgevlm import llama_env

    monkeypatch.setenv("EDGEVLM_HOST_BIN", str(tmp_path))
    with pytest.raises(NativeNotBuilt, match="make native"):
        llama_env.native_lib_dir()

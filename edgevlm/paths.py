"""Where things live: the repository, the ignored build tree, the host's native libraries.

Every location can be overridden by an environment variable so tests and CI can redirect them.
"""
from __future__ import annotations

import os
from pathlib import Path

from edgevlm.errors import InputNotFound

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent


def build_root() -> Path:
    """The ignored folder that holds the extracted llama.cpp source and every build tree."""
    return Path(os.environ.get("EDGEVLM_BUILD_DIR", REPO_ROOT / "build")).resolve()


def target_build_dir(target: str) -> Path:
    return build_root() / target


def host_bin_dir() -> Path:
    """Shared libraries and binaries of the host build (libllama, libggml*, libmtmd, edgevlm-run, tools)."""
    return Path(os.environ.get("EDGEVLM_HOST_BIN", target_build_dir("host") / "bin")).resolve()


def devices_dir() -> Path:
    return REPO_ROOT / "devices"


def kernels_dir() -> Path:
    return REPO_ROOT / "kernels"


def default_store_path() -> Path | str:
    """The results store: $EDGEVLM_STORE (a SQLite path, or a postgresql:// URL kept as the string it is),
    else the SQLite file ~/.local/share/edgevlm/results.sqlite."""
    env = os.environ.get("EDGEVLM_STORE")
    if env:
        return env if "://" in env else Path(env)
    base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "edgevlm" / "results.sqlite"


def member(folder: Path, name: object, listed_in: Path) -> Path:
    """FOLDER/NAME for a file name a manifest lists, confined to FOLDER: a plain relative name, no `..`, no
    absolute path, and not a link out of the folder (a crafted manifest.json must not open /etc/passwd)."""
    bad = not isinstance(name, str) or not name or "\0" in name or name.startswith(("/", "\\")) \
        or any(part in ("..", "") for part in name.replace("\\", "/").split("/"))
    path = Path(folder) / name if not bad else None
    if path is None or not path.resolve().is_relative_to(Path(folder).resolve()):
        raise InputNotFound(f"{listed_in} names {str(name)[:80]!r}, which is not a file inside {folder}",
                            hint="manifest.json lists file names in its own folder; convert the checkpoint again")
    return path

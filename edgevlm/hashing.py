"""File hashing: the one sha256 of a file that manifests, the build's source pin and device pushes share."""
from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    """Hex sha256 of a file, read in chunks (multi-GB GGUFs never sit in memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _stamp(path: Path) -> tuple[str, int, int]:
    st = Path(path).stat()
    return str(Path(path).resolve()), st.st_size, st.st_mtime_ns


class FileHashes:
    """sha256 of local files, each read at most once while unchanged: keyed by (path, size, mtime). One object
    per session (a model folder carries one), so a bench session hashes a multi-GB GGUF once, not per step."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, int, int], str] = {}

    def sha256(self, path: Path) -> str:
        key = _stamp(path)
        if key not in self._known:
            self._known[key] = sha256_file(Path(path))
        return self._known[key]

    def seed(self, path: Path, sha256: str, *, size: object = None, not_after_ns: int | None = None) -> None:
        """Take a hash recorded elsewhere (manifest.json) for the file as it is now, when the file still has the
        recorded size and was not modified after the record was written."""
        key = _stamp(path)
        if (size is None or size == key[1]) and (not_after_ns is None or key[2] <= not_after_ns):
            self._known[key] = sha256

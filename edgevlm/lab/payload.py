"""Model folders and bundles to the workers without a shared file system: the driver puts each folder once
into Ray's object store; a worker unpacks it into a per-host cache named by its content hash, so a host
fetches a model once however many cells use it (and never again while the content is unchanged)."""
from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from edgevlm.hashing import sha256_file


@dataclass(frozen=True)
class Payload:
    """A folder in flight: its content hash and the object-store reference of its files (wrapped in a list,
    so Ray hands the reference to the task instead of fetching the bytes before the cache is checked)."""
    name: str
    digest: str
    ref: list


def _digest(entries) -> str:
    """sha256 over (relative path, mode, file sha256) in path order: equal digests, equal folders."""
    h = hashlib.sha256()
    for rel, mode, file_sha in sorted(entries):
        h.update(f"{rel}\0{mode:o}\0{file_sha}\n".encode())
    return h.hexdigest()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def folder_digest(folder: Path) -> str:
    """The folder's content hash, each file streamed (model folders are GBs)."""
    return _digest((p.relative_to(folder).as_posix(), p.stat().st_mode & 0o777, sha256_file(p))
                   for p in _files(folder))


def put_folder(ray, folder: Path) -> Payload:
    """Each file read once: its bytes go to the object store and are hashed for the digest."""
    files = {p.relative_to(folder).as_posix(): (p.stat().st_mode & 0o777, p.read_bytes()) for p in _files(folder)}
    digest = _digest((rel, mode, hashlib.sha256(data).hexdigest()) for rel, (mode, data) in files.items())
    return Payload(folder.name, digest, [ray.put(files)])


def cache_root() -> Path:
    return Path(os.environ.get("EDGEVLM_LAB_CACHE") or Path.home() / ".cache" / "edgevlm" / "lab")


def materialize(ray, payload: Payload) -> Path:
    """The folder on this host: from the cache, else fetched once and unpacked (temp name, then rename)."""
    final = cache_root() / "payloads" / payload.digest / payload.name
    if final.is_dir():
        return final
    files = ray.get(payload.ref[0])
    tmp = final.parent.with_name(f"{payload.digest}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    for rel, (mode, data) in files.items():
        target = tmp / payload.name / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        target.chmod(mode)
    try:
        os.replace(tmp, final.parent)
    except OSError:  # another worker on this host unpacked it first: same content by construction
        shutil.rmtree(tmp, ignore_errors=True)
    return final

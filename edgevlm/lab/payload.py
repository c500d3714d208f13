"""Model folders and bundles to the workers without a shared file system: the driver puts each folder once
into Ray's object store; a worker unpacks it into a per-host cache named by its content hash, so a host
fetches a model once however many cells use it (and never again while the content is unchanged)."""
from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from edgevlm.device.transport import sha256_file


@dataclass(frozen=True)
class Payload:
    """A folder in flight: its content hash and the object-store reference of its files (wrapped in a list,
    so Ray hands the reference to the task instead of fetching the bytes before the cache is checked)."""
    name: str
    digest: str
    ref: list


def folder_digest(folder: Path) -> str:
    """sha256 over every file's relative path, mode and sha256: equal digests, equal folders."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        h.update(f"{rel}\0{path.stat().st_mode & 0o777:o}\0{sha256_file(path)}\n".encode())
    return h.hexdigest()


def put_folder(ray, folder: Path) -> Payload:
    files = {p.relative_to(folder).as_posix(): (p.stat().st_mode & 0o777, p.read_bytes())
             for p in sorted(folder.rglob("*")) if p.is_file()}
    return Payload(folder.name, folder_digest(folder), [ray.put(files)])


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

"""Model folders and bundles to the workers without a shared file system: the driver puts each folder once
into Ray's object store; a worker unpacks it into a per-host cache at `payloads/<content hash>`, so a host
fetches a model once however many cells use it (and never again while the content is unchanged).

The cache path is the content hash and nothing else: two folders with the same files but different names are
one cache entry (the name is metadata, `Payload.name`), so renaming a model folder never breaks a warm cache.
What is shipped is exactly the folder: regular files, and symlinks only when they stay inside it (a bundle's
soname links); a link out of the folder, a special file or an empty folder is refused at submission, and every
name is checked again when unpacked (no absolute path, no `..`)."""
from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from edgevlm.errors import LabError
from edgevlm.hashing import sha256_file

LINK = "link"  # the mode recorded for a symlink in the digest (a file's mode is an octal number)


@dataclass(frozen=True)
class Payload:
    """A folder in flight: its name (metadata only), content hash and the object-store reference of its files
    (wrapped in a list, so Ray hands the reference to the task instead of fetching the bytes before the cache
    is checked)."""
    name: str
    digest: str
    ref: list


def _digest(entries) -> str:
    """sha256 over (relative path, mode, file sha256 or link target) in path order: equal digests, equal folders."""
    h = hashlib.sha256()
    for rel, mode, content in sorted(entries, key=lambda e: e[0]):
        kind = mode if isinstance(mode, str) else f"{mode:o}"
        h.update(f"{rel}\0{kind}\0{content}\n".encode())
    return h.hexdigest()


def safe_rel(rel: str, where: str) -> PurePosixPath:
    """A relative name that stays inside its folder (no absolute path, no `..`, no empty part)."""
    path = PurePosixPath(rel)
    if not rel or path.is_absolute() or any(part in ("..", "") for part in rel.split("/")) or "\0" in rel:
        raise LabError(f"{where}: {rel!r} is not a name inside the folder",
                       hint="payload names are relative paths without '..'")
    return path


def _walk(folder: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """(regular files, symlinks as relative targets) of a folder, links not followed; anything that would ship
    bytes from outside the folder is refused."""
    root = folder.resolve()
    files: dict[str, Path] = {}
    links: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink():
                links[rel] = _inside_link(root, folder, path)
            elif path.is_file():
                files[rel] = path
            elif not path.is_dir():
                raise LabError(f"{path} is not a regular file (a device, socket or pipe)",
                               hint="ship folders of regular files only")
    return files, links


def _inside_link(root: Path, folder: Path, link: Path) -> str:
    target = link.resolve()
    if not target.is_relative_to(root) or not target.exists():
        raise LabError(f"{link} links to {os.readlink(link)}, outside {folder} (or to nothing)",
                       hint="copy the file into the folder instead of linking it; only links inside it are shipped")
    return os.path.relpath(target, link.parent.resolve())


def folder_digest(folder: Path) -> str:
    """A checkpoint's content hash, each file streamed (model folders are GBs); links are followed here since
    nothing is shipped (a Hugging Face snapshot is all links into its blob store)."""
    return _digest((p.relative_to(folder).as_posix(), p.stat().st_mode & 0o777, sha256_file(p))
                   for p in sorted(folder.rglob("*")) if p.is_file())


def put_folder(ray, folder: Path) -> Payload:
    """Each file read once: its bytes go to the object store and are hashed for the digest."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LabError(f"{folder} is not a folder", hint="name a model folder or a bundle")
    paths, links = _walk(folder)
    if not paths:
        raise LabError(f"{folder} holds no files: nothing to ship", hint="name a converted model folder")
    files = {rel: (p.stat().st_mode & 0o777, p.read_bytes()) for rel, p in paths.items()}
    return Payload(folder.name, payload_digest(files, links), [ray.put((files, links))])


def payload_digest(files: dict, links: dict) -> str:
    return _digest([(rel, mode, hashlib.sha256(data).hexdigest()) for rel, (mode, data) in files.items()]
                   + [(rel, LINK, target) for rel, target in links.items()])


def cache_root() -> Path:
    return Path(os.environ.get("EDGEVLM_LAB_CACHE") or Path.home() / ".cache" / "edgevlm" / "lab")


def materialize(ray, payload: Payload) -> Path:
    """The folder on this host, `payloads/<digest>`: from the cache, else fetched once and unpacked (temp name,
    then rename). Returns only a folder that exists with the payload's content; anything else is a LabError."""
    final = cache_root() / "payloads" / payload.digest
    if final.is_dir():
        return final
    files, links = ray.get(payload.ref[0])
    if payload_digest(files, links) != payload.digest:
        raise LabError(f"payload {payload.name} arrived with other content than its hash {payload.digest[:12]}")
    tmp = final.with_name(f"{payload.digest}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        _unpack(tmp, files, links, payload.name)
        _publish(tmp, final, payload.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _unpack(tmp: Path, files: dict, links: dict, name: str) -> None:
    try:
        tmp.mkdir(parents=True)
        for rel, (mode, data) in files.items():
            target = tmp / safe_rel(rel, f"payload {name}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            target.chmod(mode)
        for rel, link_target in links.items():
            where = tmp / safe_rel(rel, f"payload {name}")
            if not (where.parent / link_target).resolve().is_relative_to(tmp.resolve()):
                raise LabError(f"payload {name}: link {rel} -> {link_target} leaves the folder")
            where.parent.mkdir(parents=True, exist_ok=True)
            where.symlink_to(link_target)
    except OSError as exc:
        raise LabError(f"could not unpack payload {name} into {tmp.parent}: {exc.strerror or exc}",
                       hint="free space in the lab cache (EDGEVLM_LAB_CACHE) and run the cell again") from None


def _publish(tmp: Path, final: Path, name: str) -> None:
    try:
        os.replace(tmp, final)
    except OSError as exc:
        if not final.is_dir():  # not "another worker on this host unpacked the same content first"
            raise LabError(f"could not move payload {name} into the cache at {final}: {exc.strerror or exc}",
                           hint="check the lab cache folder (EDGEVLM_LAB_CACHE)") from None

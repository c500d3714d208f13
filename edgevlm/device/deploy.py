"""Put a bundle, a model and an input image on a device, each file once per content hash.

Layout under the profile's workdir: bundle/ (binaries, libraries, build-info.json), models/, inputs/. The local
transport with no workdir runs everything in place: nothing is copied.
"""
from __future__ import annotations

import os
import re
import secrets
import shlex
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from edgevlm.artifact import ModelFolder
from edgevlm.device.transport import PushStats, Transport
from edgevlm.errors import DeviceError


@dataclass(frozen=True)
class Deployment:
    bundle: str                 # remote folder holding the binaries (and their libraries)
    llm: str
    mmproj: str | None
    image: str | None
    scratch: str                # this session's folder for per-run outputs (its own: never shared)
    pushed: PushStats

    @property
    def env(self) -> dict[str, str]:
        return {"LD_LIBRARY_PATH": self.bundle}


@dataclass(frozen=True)
class Placement:
    """Where a session's files go: the profile's workdir ('' for the local device: in place), the local bundle to
    push (None when the bundle was built on the device), or the bundle already on the device, and the tools."""
    workdir: str
    bundle_dir: Path | None
    remote_bundle: str | None = None
    tools: tuple[str, ...] = ()


def session_name() -> str:
    """A scratch folder name no other session (on this or another machine) uses."""
    host = re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname())[:40]
    return f"{host}-{os.getpid()}-{secrets.token_hex(4)}"


def deploy(transport: Transport, where: Placement, model: ModelFolder, image: Path | None, *,
           known_hashes: dict[str, str | None] | None = None) -> Deployment:
    """Push what the bench needs, and make this session's scratch folder (removed by remove_scratch)."""
    if not where.workdir:                            # local, in place
        scratch_dir = tempfile.mkdtemp(prefix="edgevlm-session-")
        return Deployment(str(where.bundle_dir), str(model.llm), _str(model.mmproj), _str(image), scratch_dir,
                          PushStats(0, 0, 0))
    root = PurePosixPath(transport.resolve(where.workdir))
    bundle = where.remote_bundle or str(root / "bundle")
    bundle_dir = None if where.remote_bundle else where.bundle_dir
    pairs = plan(transport, where.workdir, bundle_dir, model, image, root=root, tools=where.tools)
    remote_model = {p: str(root / "models" / p.name) for p in model.files()}
    remote_image = str(root / "inputs" / image.name) if image else None
    stats = transport.push_files(pairs, known_hashes=known_hashes, local_sha256=model.sha256)
    if bundle_dir is not None:
        _recreate_symlinks(transport, bundle_dir, bundle)
    scratch_dir = str(root / "scratch" / session_name())
    transport.shell(f"mkdir -p -- {shlex.quote(scratch_dir)}", check=True)
    return Deployment(bundle, remote_model[model.llm], remote_model.get(model.mmproj) if model.mmproj else None,
                      remote_image, scratch_dir, stats)


def remove_scratch(transport: Transport, dep: Deployment) -> None:
    """The session's scratch folder goes with the session (a device that cannot be reached keeps it)."""
    try:
        transport.shell(f"rm -rf -- {shlex.quote(dep.scratch)}", timeout=60)
    except DeviceError:
        pass


def plan(transport: Transport, workdir: str, bundle_dir: Path | None, model: ModelFolder, image: Path | None,
         *, root: PurePosixPath | None = None, tools: tuple[str, ...] = ()) -> list[tuple[Path, str]]:
    """(local file, remote path) of everything deploy() pushes; empty when the run happens in place."""
    if not workdir:
        return []
    root = root or PurePosixPath(transport.resolve(workdir))
    pairs = [(p, str(root / "bundle" / p.relative_to(bundle_dir).as_posix())) for p in bundle_files(bundle_dir, tools)] \
        if bundle_dir is not None else []
    pairs += [(p, str(root / "models" / p.name)) for p in model.files()]
    if image:
        pairs.append((image, str(root / "inputs" / image.name)))
    return pairs


def bundle_files(bundle_dir: Path, tools: tuple[str, ...] = ()) -> list[Path]:
    """The files of a bundle folder a device needs: the named tools, shared libraries and build-info.json (a host
    build's bin/ holds every llama.cpp tool), or every file when no tools are named."""
    files = sorted(p for p in bundle_dir.rglob("*") if p.is_file() and not p.is_symlink())
    if not tools:
        return files
    keep = set(tools) | {"build-info.json"}
    return [p for p in files if p.name in keep or ".so" in p.suffixes]


def _recreate_symlinks(transport: Transport, bundle_dir: Path, remote: str) -> None:
    """Shared-library soname links (libllama.so.0 -> libllama.so.0.5.0) are links on the device too."""
    links = sorted(p for p in bundle_dir.iterdir() if p.is_symlink())
    if links:
        line = " && ".join(f"ln -sf {shlex.quote(p.readlink().name)} {shlex.quote(remote + '/' + p.name)}"
                           for p in links)
        transport.shell(line, check=True)


def _str(path: Path | None) -> str | None:
    return str(path) if path else None

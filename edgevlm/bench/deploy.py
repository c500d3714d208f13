"""Put a bundle, a model and an input image on a device, each file once per content hash.

Layout under the profile's workdir: bundle/ (binaries, libraries, build-info.json), models/, inputs/. The local
transport with no workdir runs everything in place: nothing is copied.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from edgevlm.bench.model import BenchModel
from edgevlm.device.transport import PushStats, Transport


@dataclass(frozen=True)
class Deployment:
    bundle: str                 # remote folder holding the binaries (and their libraries)
    llm: str
    mmproj: str | None
    image: str | None
    scratch: str                # remote folder for per-run outputs
    pushed: PushStats

    @property
    def env(self) -> dict[str, str]:
        return {"LD_LIBRARY_PATH": self.bundle}


def deploy(transport: Transport, workdir: str, bundle_dir: Path | None, model: BenchModel,
           image: Path | None, *, remote_bundle: str | None = None, scratch: str | None = None,
           tools: tuple[str, ...] = (), known_hashes: dict[str, str | None] | None = None) -> Deployment:
    """Push what the bench needs; `remote_bundle` names a bundle already on the device (built there)."""
    if not workdir:                                  # local, in place
        scratch_dir = scratch or str(Path(bundle_dir or ".").parent / "bench-scratch")
        transport.shell(f"mkdir -p {shlex.quote(scratch_dir)}", check=True)
        return Deployment(str(bundle_dir), str(model.llm), _str(model.mmproj), _str(image), scratch_dir,
                          PushStats(0, 0, 0))
    root = PurePosixPath(transport.resolve(workdir))
    bundle = remote_bundle or str(root / "bundle")
    pairs = plan(transport, workdir, None if remote_bundle else bundle_dir, model, image, root=root, tools=tools)
    remote_model = {p: str(root / "models" / p.name) for p in model.files()}
    remote_image = str(root / "inputs" / image.name) if image else None
    stats = transport.push_files(pairs, known_hashes=known_hashes)
    if remote_bundle is None and bundle_dir is not None:
        _recreate_symlinks(transport, bundle_dir, bundle)
    scratch_dir = str(root / "scratch")
    transport.shell(f"mkdir -p {shlex.quote(scratch_dir)}", check=True)
    return Deployment(bundle, remote_model[model.llm], remote_model.get(model.mmproj) if model.mmproj else None,
                      remote_image, scratch_dir, stats)


def plan(transport: Transport, workdir: str, bundle_dir: Path | None, model: BenchModel, image: Path | None,
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

"""Build on the device itself (the Jetson way): push a source tree once per content hash, run CMake there.

The tree is packed into a tar whose name carries the tree's content hash; the device keeps the extracted tree
under <root>/src-<hash> with a `.complete` stamp, so the second build of the same source pushes nothing. The
build folder on the device persists too, so rebuilds are incremental there as they are here.
"""
from __future__ import annotations

import hashlib
import json
import shlex
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from edgevlm.device.profiles import DeviceProfile
from edgevlm.device.tracked import run_tracked
from edgevlm.device.transport import Transport
from edgevlm.errors import DeviceError, NativeNotBuilt
from edgevlm.toolchain.bundle import Bundle, load_bundle
from edgevlm.toolchain.targets import get_target


@dataclass(frozen=True)
class SourceTree:
    """Folders packed side by side: {name inside the archive: local folder}."""
    parts: tuple[tuple[str, Path], ...]

    def files(self) -> list[tuple[str, Path]]:
        out = []
        for arc_root, folder in self.parts:
            for path in sorted(Path(folder).rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    out.append((f"{arc_root}/{path.relative_to(folder).as_posix()}", path))
        return out

    def content_hash(self) -> str:
        digest = hashlib.sha256()
        for arc_name, path in self.files():
            digest.update(arc_name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
        return digest.hexdigest()[:16]


def push_source(transport: Transport, tree: SourceTree, remote_root: str) -> tuple[str, bool]:
    """(remote source folder, whether anything was sent)."""
    digest = tree.content_hash()
    remote_src = f"{remote_root}/src-{digest}"
    if transport.shell(f"test -f {shlex.quote(remote_src)}/.complete").code == 0:
        return remote_src, False
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / f"src-{digest}.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            for arc_name, path in tree.files():
                tar.add(path, arcname=arc_name)
        remote_tar = f"{remote_root}/src-{digest}.tar.gz"
        transport.push(archive, remote_tar)
    q_src, q_tar = shlex.quote(remote_src), shlex.quote(remote_tar)
    transport.shell(f"rm -rf {q_src} && mkdir -p {q_src} && tar -xzf {q_tar} -C {q_src} && touch {q_src}/.complete"
                    f" && rm -f {q_tar}", check=True, timeout=1800)
    return remote_src, True


@dataclass(frozen=True)
class CMakeJob:
    """What to build on the device: the project folder inside the pushed tree, the build folder's name, -D values
    (a value may name the pushed source folder as {src}: LLAMA_CPP_DIR={src}/llama.cpp), the targets."""
    project: str
    build_name: str
    defs: dict[str, str]
    targets: tuple[str, ...]
    jobs: int = 0                 # 0: all the device's cores
    timeout: float = 7200


def remote_cmake_build(transport: Transport, tree: SourceTree, remote_root: str, job: CMakeJob) -> str:
    """Configure (first time) and build `job.targets` on the device; returns the remote build folder. Both steps
    are tracked (pid recorded on the device): a timeout, Ctrl-C, SIGTERM or SIGHUP ends cmake and ninja there."""
    remote_root = transport.resolve(remote_root)
    remote_src, _ = push_source(transport, tree, remote_root)
    build_dir = f"{remote_root}/{job.build_name}"
    args = " ".join(shlex.quote(f"-D{k}={v.replace('{src}', remote_src)}") for k, v in sorted(job.defs.items()))
    src = shlex.quote(f"{remote_src}/{job.project}")
    configure = f"cmake -S {src} -B {shlex.quote(build_dir)} -DCMAKE_BUILD_TYPE=Release {args}"
    _tracked_step(transport, configure, f"{remote_root}/.cmake.pid", "cmake configure", job.timeout)
    parallel = f"-j {job.jobs}" if job.jobs else "-j \"$(nproc)\""
    build = f"cmake --build {shlex.quote(build_dir)} --target {' '.join(map(shlex.quote, job.targets))} {parallel}"
    _tracked_step(transport, build, f"{remote_root}/.cmake.pid", "remote build", job.timeout)
    return build_dir


def _tracked_step(transport: Transport, command: str, pid_file: str, what: str, timeout: float) -> None:
    result = run_tracked(transport, command, pid_file=pid_file, name="cmake", timeout=timeout)
    if result.code != 0:
        raise DeviceError(f"{transport.name}: {what} failed ({result.describe()}):\n"
                          f"{(result.stderr or result.stdout).strip()[-1500:]}")


def jetson_source_tree(llama_src: Path, kernels: Path) -> SourceTree:
    """The edgevlm native project as the Jetson builds it: kernels/ with the pinned llama.cpp beside it."""
    return SourceTree((("kernels", kernels), ("llama.cpp", llama_src)))


def remote_bundle(transport: Transport, build_dir: str, bundle: str, tools: tuple[str, ...], info: dict) -> str:
    """Collect the built tools + their shared libraries into `bundle` on the device, with build-info.json."""
    q_bin, q_bundle = shlex.quote(f"{build_dir}/bin"), shlex.quote(bundle)
    copy = " ".join(shlex.quote(t) for t in tools)
    transport.shell(f"rm -rf {q_bundle} && mkdir -p {q_bundle} && cd {q_bin} && cp -P {copy} {q_bundle}/ && "
                    f"for f in *.so*; do [ -e \"$f\" ] && cp -P \"$f\" {q_bundle}/; done; true", check=True)
    with tempfile.TemporaryDirectory() as tmp:
        info_file = Path(tmp) / "build-info.json"
        info_file.write_text(json.dumps({**info, "tools": list(tools)}, indent=2) + "\n")
        transport.push(info_file, f"{bundle}/build-info.json")
    return bundle


def device_built_bundle(transport: Transport, profile: DeviceProfile) -> Bundle | None:
    """The bundle built on the device itself (a target that builds on the device, e.g. jetson-orin over ssh) when
    no local one exists: such devices build natively, so the bundle is already where it runs."""
    if not get_target(profile.target).builds_on_device or load_bundle(profile.target) is not None:
        return None
    remote = f"{transport.resolve(profile.workdir or '~/edgevlm')}/bundle"
    text = transport.read_text(f"{remote}/build-info.json")
    if text is None:
        raise NativeNotBuilt(f"no {profile.target} bundle on {transport.name} ({remote})",
                             hint=f"edgevlm build --target {profile.target} --device {profile.name}, or --bundle DIR")
    info = json.loads(text)
    return Bundle(str(info.get("target", profile.target)), Path(remote), {**info, "on_device": True})


def device_bundle(transport: Transport, profile: DeviceProfile) -> Bundle | None:
    """The bundle built on the device, or None when there is none (for a check, not a run)."""
    try:
        return device_built_bundle(transport, profile)
    except NativeNotBuilt:
        return None

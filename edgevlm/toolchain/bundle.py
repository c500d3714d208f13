"""Device bundles: the binaries a device needs, in one self-contained folder (build/<target>/bundle).

A bundle holds edgevlm-run and the stock llama-bench / llama-mtmd-cli it is compared against, the shared
libraries they load (host build; the android build is static and has none), and build-info.json. It is built
only from the CMake targets it needs (a cross build of all of llama.cpp's tools would take far longer), assembled
under a temporary name and renamed into place, so a half-written bundle never exists.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from edgevlm.toolchain.cmake import build, configure, graph_targets
from edgevlm.errors import BuildError, NativeNotBuilt
from edgevlm.files import atomic_dir
from edgevlm.paths import host_bin_dir, target_build_dir
from edgevlm.toolchain.targets import BUNDLE_TOOLS, KERNEL_TESTS, get_target


@dataclass(frozen=True)
class Bundle:
    target: str
    path: Path
    info: dict

    @property
    def tools(self) -> tuple[str, ...]:
        return tuple(self.info.get("tools", ()))

    def has(self, tool: str) -> bool:
        return tool in self.tools and (self.path / tool).is_file()


def bundle_dir(target: str) -> Path:
    return target_build_dir(target) / "bundle"


def load_bundle(target: str) -> Bundle | None:
    """The bundle already built for `target`, or None."""
    path = bundle_dir(target)
    info_file = path / "build-info.json"
    if not info_file.is_file():
        return None
    return Bundle(target, path, json.loads(info_file.read_text()))


def host_bundle() -> Bundle | None:
    """The host's 'bundle' is its build output folder itself (binaries find their libraries via $ORIGIN);
    nothing is copied, and nothing is built here: `make native` / `edgevlm build` own that tree."""
    bin_dir = host_bin_dir()
    tools = [t for t in BUNDLE_TOOLS if (bin_dir / t).is_file()]
    if not tools:
        return None
    info_file = bin_dir / "build-info.json"
    info = json.loads(info_file.read_text()) if info_file.is_file() else {"target": "host"}
    return Bundle("host", bin_dir, {**info, "tools": tools,
                                    "missing_tools": [t for t in BUNDLE_TOOLS if t not in tools]})


def bundle_from_dir(path: Path) -> Bundle:
    """Any folder written by `edgevlm build` (a bundle, or a build's bin/): its build-info.json says the target;
    the tools are those of BUNDLE_TOOLS present in it."""
    path = Path(path)
    info_file = path / "build-info.json"
    if not info_file.is_file():
        raise BuildError(f"{path} has no build-info.json: not a folder written by `edgevlm build`",
                         hint="pass build/<target>/bundle or build/<target>/bin")
    info = json.loads(info_file.read_text())
    tools = [t for t in BUNDLE_TOOLS if (path / t).is_file()]
    return Bundle(str(info.get("target", "")), path, {**info, "tools": tools,
                                                      "missing_tools": [t for t in BUNDLE_TOOLS if t not in tools]})


def local_bundle(target: str, bundle_dir: Path | None = None) -> Bundle | None:
    """The bundle a run would push, without building one: --bundle DIR, else the target's built bundle."""
    if bundle_dir is not None:
        return bundle_from_dir(bundle_dir)
    return host_bundle() if get_target(target).bundle_is_build else load_bundle(target)


def ensure_bundle(target: str, progress=None) -> Bundle:
    """The local bundle for `target`, built when missing (the host's is `make native`'s own tree: never built
    here)."""
    if get_target(target).bundle_is_build:
        bundle = host_bundle()
        if bundle is None:
            raise NativeNotBuilt(f"the {target} build has none of {', '.join(BUNDLE_TOOLS)}",
                                 hint="run `make native`")
    else:
        bundle = load_bundle(target) or build_bundle(target, progress=progress)
    if not bundle.has("edgevlm-run"):
        raise NativeNotBuilt(f"the {target} bundle at {bundle.path} has no edgevlm-run "
                             f"(it has {', '.join(bundle.tools) or 'nothing'})",
                             hint=f"edgevlm build --target {target}")
    return bundle


def build_bundle(target_name: str, *, jobs: int | None = None, progress=None) -> Bundle:
    """Build the bundle's tools for a target (only those the CMake graph has) and assemble the folder; the
    kernel tests are built beside it (build/<target>/bin) when the tree has them."""
    _, build_dir, _ = configure(target_name)
    available = graph_targets(build_dir)
    tools = tuple(t for t in BUNDLE_TOOLS if t in available)
    if not tools:
        raise BuildError(f"the {target_name} build tree has none of {', '.join(BUNDLE_TOOLS)}")
    tests = tuple(t for t in KERNEL_TESTS if t in available)
    result = build(target_name, jobs=jobs, cmake_target=tools + tests, progress=progress)
    missing = [t for t in BUNDLE_TOOLS if t not in tools]
    return assemble(result.target, result.bin_dir, result.info, tools, missing)


def assemble(target: str, bin_dir: Path, info: dict, tools: tuple[str, ...], missing: list[str]) -> Bundle:
    dest = bundle_dir(target)
    with atomic_dir(dest) as tmp:
        for tool in tools:
            if not (bin_dir / tool).is_file():
                raise BuildError(f"{tool} was built but {bin_dir / tool} is missing")
            shutil.copy2(bin_dir / tool, tmp / tool)
        libs = sorted(p.name for p in bin_dir.glob("*.so*"))
        for name in libs:  # keep the soname symlinks as symlinks
            shutil.copy2(bin_dir / name, tmp / name, follow_symlinks=False)
        full = {**info, "tools": list(tools), "missing_tools": missing, "libraries": libs,
                "static": not libs}
        (tmp / "build-info.json").write_text(json.dumps(full, indent=2) + "\n")
    return Bundle(target, dest, full)

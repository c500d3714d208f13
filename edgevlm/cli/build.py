"""`edgevlm build`: the pinned llama.cpp + edgevlm native code for a target, and device bundles."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer
from rich.table import Table

from edgevlm.cli import options as opt
from edgevlm.device.connect import transport_for
from edgevlm.device.profiles import load_profile
from edgevlm.device.lock import device_lock
from edgevlm.device.remote_build import CMakeJob, jetson_source_tree, remote_bundle, remote_cmake_build
from edgevlm.paths import kernels_dir
from edgevlm.progress import console, progress_bar
from edgevlm.toolchain import pin
from edgevlm.toolchain.bundle import build_bundle
from edgevlm.toolchain.cmake import build
from edgevlm.toolchain.source import ensure_source
from edgevlm.toolchain.targets import BUNDLE_TOOLS, BuildTarget, TARGETS, get_target


LOCAL = {
    "target": opt.Opt(str, "host", " | ".join(TARGETS), ("--target",)),
    "bundle": opt.Opt(bool, None, "build only the device bundle (edgevlm-run, llama-bench, llama-mtmd-cli) into "
                      "build/<target>/bundle; default: on for device targets", ("--bundle/--no-bundle",)),
}


@dataclass(frozen=True)
class BuildArgs:
    """`edgevlm build`'s options, in --help order (declared in LOCAL, else in cli/options.py)."""
    target: str
    jobs: int | None
    bundle: bool | None
    host: str | None          # a target built on its device (jetson-orin): this ssh host
    device: str | None        # ... or this profile's device


def register(app: typer.Typer) -> None:
    opt.command(app, "build", BuildArgs, LOCAL)(build_cmd)


def build_cmd(a: BuildArgs) -> None:
    """Build for a target. host: everything (libraries + tools + edgevlm); device targets: a bundle."""
    target, jobs, bundle = a.target, a.jobs, a.bundle
    row = get_target(target)  # unknown names fail before anything runs
    if row.builds_on_device and (a.host or a.device or not _on_its_device(row)):
        _remote_build(row, a.device or row.default_profile, a.host, jobs)   # Jetsons build natively, over ssh
        return
    with progress_bar() as progress:
        if bundle if bundle is not None else not row.bundle_is_build:
            made = build_bundle(target, jobs=jobs, progress=progress)
            path, info = made.path, made.info
        else:
            result = build(target, jobs=jobs, progress=progress)
            path, info = result.bin_dir, result.info
    _show(target, path, info)


def _on_its_device(row: BuildTarget) -> bool:
    return bool(row.native_marker) and Path(row.native_marker).exists()


def _show(target: str, path, info: dict) -> None:
    table = Table(title=f"build: {target}", show_header=False)
    table.add_row("output", str(path))
    for key in ("llama_cpp_commit", "compiler", "cxx_flags", "build_type", "tools", "missing_tools", "static",
                "last_build_seconds"):
        if key in info:
            table.add_row(key, str(info[key]))
    console.print(table)


def _remote_build(row: BuildTarget, device: str, host: str | None, jobs: int | None) -> None:
    profile = load_profile(device)
    transport = transport_for(profile, host=host)
    root = transport.resolve(profile.workdir or "~/edgevlm")
    defs = {"LLAMA_CPP_DIR": "{src}/llama.cpp", "EDGEVLM_LLAMA_COMMIT": pin.LLAMA_CPP_COMMIT,
            **dict(row.cmake_defs)}
    job = CMakeJob(project="kernels", build_name=f"build-{row.name}", defs=defs, targets=BUNDLE_TOOLS,
                   jobs=jobs or 0)
    # a build heats the device like a bench does: one at a time, never beside a bench (the device lock)
    with device_lock(transport, on_wait=lambda line: console.print(f"[yellow]{line}[/]", highlight=False)), \
            console.status(f"building {row.name} on {transport.name} (source pushed once per content hash)"):
        build_dir = remote_cmake_build(transport, jetson_source_tree(ensure_source(), kernels_dir()), root, job)
        bundle = remote_bundle(transport, build_dir, f"{root}/bundle", BUNDLE_TOOLS,
                               {"target": row.name, "llama_cpp_commit": pin.LLAMA_CPP_COMMIT,
                                "cmake_defs": dict(row.cmake_defs), "built_on": transport.describe()})
    _show(row.name, f"{transport.name}:{bundle}", {"tools": list(BUNDLE_TOOLS)})

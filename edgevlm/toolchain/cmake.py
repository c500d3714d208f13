"""Configure and build the one CMake project (kernels/) for a target, with a progress bar over ninja's steps.

A rebuild with nothing changed is a no-op for ninja (seconds); ccache (found by ggml's GGML_CCACHE) makes a
rebuild from a clean tree cheap too.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from edgevlm.toolchain import pin
from edgevlm.toolchain.source import ensure_source
from edgevlm.toolchain.targets import BUNDLE_TOOLS, BuildTarget, resolve_target
from edgevlm.interrupt import kill_group
from edgevlm.errors import BuildError
from edgevlm.files import write_text
from edgevlm.paths import REPO_ROOT, devices_dir, kernels_dir, target_build_dir

NINJA_STEP = re.compile(r"^\[(\d+)/(\d+)\]")
DEFAULT_BUILD_TARGET = "edgevlm-all"


@dataclass(frozen=True)
class BuildResult:
    target: str
    build_dir: Path
    bin_dir: Path
    info: dict


def _check_tools(target: BuildTarget) -> None:
    needed = ("cmake", "ninja") + target.required_tools
    missing = [tool for tool in needed if shutil.which(tool) is None]
    if missing:
        raise BuildError(f"building for {target.name} needs {', '.join(missing)}, not found on PATH",
                         hint="run `make setup` (it installs the system packages the build needs)")


def _cmake_args(target: BuildTarget, source: Path, build_dir: Path) -> list[str]:
    args = ["cmake", "-S", str(kernels_dir()), "-B", str(build_dir), "-G", "Ninja",
            f"-DLLAMA_CPP_DIR={source}", f"-DEDGEVLM_LLAMA_COMMIT={pin.LLAMA_CPP_COMMIT}",
            "-DCMAKE_BUILD_TYPE=Release"]
    if target.toolchain_file:
        args.append(f"-DCMAKE_TOOLCHAIN_FILE={devices_dir() / target.toolchain_file}")
    args += [f"-D{key}={value}" for key, value in target.cmake_defs]
    return args


def _run_streaming(cmd: list[str], env: dict, on_line, what: str) -> None:
    # its own process group: Ctrl-C, SIGTERM or SIGHUP to edgevlm ends cmake, ninja and every compiler with it
    # (without it, Popen's exit would wait for the whole build to finish)
    tail: deque[str] = deque(maxlen=40)
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                          start_new_session=True) as proc:
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                tail.append(line.rstrip())
                on_line(line)
            code = proc.wait()
        except BaseException:
            kill_group(proc)
            raise
    if code != 0:
        raise BuildError(f"{what} failed (exit {code}); last output:\n" + "\n".join(tail))


def _needs_configure(target: BuildTarget, build_dir: Path) -> bool:
    """A new tree, or one configured with other values than the target now defines (e.g. after an upgrade)."""
    if not ((build_dir / "build.ninja").exists() and (build_dir / "CMakeCache.txt").exists()):
        return True
    cache = _read_cmake_cache(build_dir / "CMakeCache.txt")
    return any(cache.get(key) != value for key, value in target.cmake_defs)


def configure(target_name: str) -> tuple[BuildTarget, Path, dict]:
    """Fetch/verify the pinned source if needed and configure the target's build tree (first time only)."""
    target = resolve_target(target_name)
    _check_tools(target)
    source = ensure_source()
    build_dir = target_build_dir(target.name)
    env = {**os.environ, **dict(target.env)}
    env.setdefault("CCACHE_DIR", str(Path.home() / ".cache" / "ccache"))
    # paths relative to the checkout in ccache's hashes: a fresh clone elsewhere reuses the cache
    env.setdefault("CCACHE_BASEDIR", str(REPO_ROOT))
    if _needs_configure(target, build_dir):
        _run_streaming(_cmake_args(target, source, build_dir), env, lambda line: None,
                       f"cmake configure for {target.name}")
    return target, build_dir, env


def build(target_name: str = "host", *, jobs: int | None = None,
          cmake_target: str | tuple[str, ...] = DEFAULT_BUILD_TARGET, progress=None) -> BuildResult:
    """Configure (first time) and build `cmake_target` (one name or several) for a target."""
    target, build_dir, env = configure(target_name)
    task = progress.add_task(f"building {target.name}", total=None) if progress else None

    def on_line(line: str) -> None:
        match = NINJA_STEP.match(line)
        if match and progress is not None:
            progress.update(task, completed=int(match.group(1)), total=int(match.group(2)))

    started = time.time()
    names = (cmake_target,) if isinstance(cmake_target, str) else tuple(cmake_target)
    cmd = ["cmake", "--build", str(build_dir), "--target", *names, "-j", str(jobs or os.cpu_count() or 2)]
    _run_streaming(cmd, env, on_line, f"build of {target.name}")
    info = write_build_info(target, build_dir, time.time() - started)
    return BuildResult(target.name, build_dir, build_dir / "bin", info)


def graph_targets(build_dir: Path) -> set[str]:
    """Names of the targets a configured ninja tree can build."""
    proc = subprocess.run(["ninja", "-C", str(build_dir), "-t", "targets", "all"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"cannot list the targets of {build_dir}: {proc.stderr.strip()[-300:]}")
    return {line.split(":", 1)[0] for line in proc.stdout.splitlines()}


def write_build_info(target: BuildTarget, build_dir: Path, seconds: float) -> dict:
    """build-info.json next to the binaries: what a benchmark result records about the build."""
    cache = _read_cmake_cache(build_dir / "CMakeCache.txt")
    info = {
        "target": target.name,
        "llama_cpp_commit": pin.LLAMA_CPP_COMMIT,
        "llama_cpp_python_sdist": pin.SDIST_FILENAME,
        "sdist_sha256": pin.SDIST_SHA256,
        "cmake_defs": dict(target.cmake_defs),
        "compiler": cache.get("CMAKE_CXX_COMPILER", ""),
        "cxx_flags": cache.get("CMAKE_CXX_FLAGS", ""),
        "build_type": cache.get("CMAKE_BUILD_TYPE", ""),
        "ggml_native": cache.get("GGML_NATIVE", ""),
        "last_build_seconds": round(seconds, 1),
    }
    bin_dir = build_dir / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    write_text(bin_dir / "build-info.json", json.dumps(info, indent=2) + "\n")
    return info


def _read_cmake_cache(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(errors="replace").splitlines():
            if "=" in line and ":" in line.split("=", 1)[0] and not line.startswith(("//", "#")):
                key_type, value = line.split("=", 1)
                values[key_type.split(":", 1)[0]] = value
    return values

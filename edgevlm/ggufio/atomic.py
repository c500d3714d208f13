"""Output files appear only when complete: write `<name>.tmp-<pid>` in the same folder, fsync it, then
os.replace (and fsync the folder, so the rename itself survives a power cut).

OS errors (permissions, disk full, read-only file system) become `OutputError` and the temp file is removed.
"""
from __future__ import annotations

import errno
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from edgevlm.errors import OutputError

_REASONS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
            errno.EACCES: "permission denied", errno.EPERM: "permission denied",
            errno.EROFS: "the file system is read-only"}


def temp_name(path: Path) -> Path:
    return path.with_name(f"{path.name}.tmp-{os.getpid()}")


def output_error(path: Path, exc: OSError) -> OutputError:
    # numpy's tofile reports a short write as an OSError without errno: look at the file system instead
    code = exc.errno if exc.errno is not None else (errno.ENOSPC if _nearly_full(path) else None)
    reason = _REASONS.get(code, exc.strerror or str(exc))
    return OutputError(f"cannot write {path}: {reason}", hint="choose another output folder or free space")


def _nearly_full(path: Path, slack: int = 1 << 20) -> bool:
    for p in (path, *path.parents):
        if p.exists():
            st = os.statvfs(p)
            return st.f_bavail * st.f_frsize < slack
    return False


@contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temp path next to `path`; rename it to `path` if the block succeeds, delete it otherwise."""
    tmp = temp_name(path)
    try:
        yield tmp
        fsync_file(tmp)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        _remove(tmp)
        raise output_error(path, exc) from exc
    except BaseException:
        _remove(tmp)
        raise


def fsync_file(path: Path) -> None:
    """Data on disk before the rename that publishes it (else a crash can leave a complete name, empty bytes)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_free_space(folder: Path, needed: int, what: str) -> None:
    """Stop before writing when the file system holding `folder` has less than `needed` bytes free."""
    for p in (folder, *folder.parents):
        if p.exists():
            st = os.statvfs(p)
            free = st.f_bavail * st.f_frsize
            if free < needed:
                raise OutputError(f"not enough free disk space for {what} in {folder}: needs about "
                                  f"{_size(needed)}, {_size(free)} free",
                                  hint="free space or choose an output folder on a larger disk")
            return


def _size(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def _remove(p: Path) -> None:
    try:
        p.unlink()
    except FileNotFoundError:
        pass


def ensure_output_dir(out: Path) -> Path:
    """Create OUT if needed and check it is writable, before any expensive work."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(out, exc) from exc
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write into {out}: permission denied", hint="choose another output folder")
    return out

"""Files on disk, the one home for writing them safely: an output appears only when complete.

Write `<name>.tmp-<pid>` in the same folder, fsync it, os.replace it onto the final name, fsync the folder
(so the rename itself survives a power cut). OS errors (permissions, disk full, read-only file system) become
`OutputError` with a reason a user can act on, and the temp file is removed. Folders (a bundle, a synthesized
checkpoint) are published the same way with `atomic_dir`.

A primitive: imports nothing from edgevlm but the errors.
"""
from __future__ import annotations

import errno
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from edgevlm.errors import OutputError

_REASONS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
            errno.EACCES: "permission denied", errno.EPERM: "permission denied",
            errno.EROFS: "the file system is read-only"}


def temp_name(path: Path) -> Path:
    """The name a file is written under before it is complete: beside it, so the rename stays on one disk."""
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
        remove_quietly(tmp)
        raise output_error(path, exc) from exc
    except BaseException:
        remove_quietly(tmp)
        raise


@contextmanager
def atomic_dir(path: Path, tmp: Path | None = None) -> Iterator[Path]:
    """Yield an empty temp folder next to `path`; it replaces `path` (and anything there) when the block succeeds.

    `tmp` overrides the temp folder's name (a hidden one where a visible half-made folder would mislead)."""
    tmp = tmp or temp_name(path)
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise output_error(path, exc) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_bytes(path: Path, data: bytes) -> None:
    """`path` holds exactly `data`, or is left as it was."""
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: Path, text: str) -> None:
    """`path` holds exactly `text` (UTF-8), or is left as it was."""
    write_bytes(path, text.encode("utf-8"))


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


def free_bytes(folder: Path) -> int | None:
    """Bytes free for this user on the file system that holds `folder` (or its nearest existing parent)."""
    for p in (folder, *folder.parents):
        if p.exists():
            st = os.statvfs(p)
            return st.f_bavail * st.f_frsize
    return None


def check_free_space(folder: Path, needed: int, what: str) -> None:
    """Stop before writing when the file system holding `folder` has less than `needed` bytes free."""
    free = free_bytes(folder)
    if free is not None and free < needed:
        raise OutputError(f"not enough free disk space for {what} in {folder}: needs about "
                          f"{_size(needed)}, {_size(free)} free",
                          hint="free space or choose an output folder on a larger disk")


def _size(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def remove_quietly(p: Path) -> None:
    """Remove a file that may not be there (a temp name after a failure)."""
    try:
        p.unlink()
    except OSError:  # not there, or its folder is no folder (/dev/null/x): nothing to remove either way
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


def check_output_file(path: Path) -> Path:
    """Before expensive work: PATH can be written (its folder exists, is a folder, is writable) and is not a
    folder itself. The file is still written atomically at the end; this only moves the failure to the start."""
    path = Path(path)
    folder = path.parent
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder", hint="name a file")
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: {folder} is not a folder", hint="choose an existing folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: permission denied", hint="choose another output folder")
    return path

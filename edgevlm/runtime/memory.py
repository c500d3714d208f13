"""Resident memory of this process, split the way a phone's memory manager sees it (Linux /proc/self/status):
anonymous pages (heap, repacked weights, buffers: only swap can take them) and file-backed pages (mapped model
files: clean, the kernel drops and re-reads them). The kernel keeps the peak total (VmHWM) but not the split,
so a thread samples RssAnon / RssFile while the work runs (as edgevlm-run does in kernels/runtime/memory.h).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

STATUS = Path("/proc/self/status")


@dataclass
class MemoryPeaks:         # MiB
    rss_mb: float = -1.0    # VmHWM; -1 where /proc is unreadable
    anon_mb: float = -1.0   # highest RssAnon seen
    file_mb: float = -1.0   # highest RssFile + RssShmem seen


def read_status_kb(path: Path = STATUS) -> dict[str, int] | None:
    """VmHWM, RssAnon, RssFile, RssShmem in KiB; None when the file cannot be read (not Linux)."""
    try:
        text = path.read_text()
    except OSError:
        return None
    out = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmHWM", "RssAnon", "RssFile", "RssShmem"):
            out[key] = int(rest.split()[0])
    return out if {"VmHWM", "RssAnon", "RssFile"} <= out.keys() else None


def _mb(kib: int) -> float:
    """MiB, the unit of edgevlm-run's peak_rss_mb."""
    return kib / 1024


class MemorySampler:
    """Samples every interval_s on a daemon thread until close(); peaks() samples once more and returns them."""

    def __init__(self, interval_s: float = 0.01):
        self._peaks = MemoryPeaks()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.sample()
        self._thread = threading.Thread(target=self._loop, args=(interval_s,), daemon=True)
        self._thread.start()

    def _loop(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            self.sample()

    def sample(self) -> None:
        st = read_status_kb()
        if st is None:
            return
        with self._lock:
            p = self._peaks
            p.rss_mb = max(p.rss_mb, _mb(st["VmHWM"]))
            p.anon_mb = max(p.anon_mb, _mb(st["RssAnon"]))
            p.file_mb = max(p.file_mb, _mb(st["RssFile"] + st.get("RssShmem", 0)))

    def peaks(self) -> MemoryPeaks:
        self.sample()
        with self._lock:
            return MemoryPeaks(**vars(self._peaks))

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

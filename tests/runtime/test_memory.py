"""The anonymous / file-backed memory split that `edgevlm run --timings` reports (edgevlm/runtime/memory.py),
checked against memory this test itself makes resident: an anonymous allocation and a mapped file it reads."""
from __future__ import annotations

import mmap

import numpy as np
import pytest

from edgevlm.runtime.memory import MemorySampler, read_status_kb

MIB = 2**20
SIZE = 96 * 2**20

pytestmark = pytest.mark.skipif(read_status_kb() is None, reason="needs Linux /proc/self/status")


def test_anonymous_and_file_backed_peaks_are_told_apart(tmp_path):
    sampler = MemorySampler()
    try:
        before = sampler.peaks()
        anon = np.ones(SIZE // 8)        # written: every page resident and anonymous
        path = tmp_path / "blob.bin"
        path.write_bytes(b"\1" * SIZE)
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            total = sum(m[i] for i in range(0, SIZE, mmap.PAGESIZE))   # touch every page of the mapping
            after = sampler.peaks()
        assert total == SIZE // mmap.PAGESIZE
        del anon
    finally:
        sampler.close()
    # each peak grew by at least what was made resident of its kind (a page-cache hit maps the page, so the
    # whole file counts; 4 MB slack for sampling of other pages coming and going)
    assert after.anon_mb - before.anon_mb >= SIZE / MIB - 4
    assert after.file_mb - before.file_mb >= SIZE / MIB - 4
    assert after.rss_mb >= after.anon_mb  # the kernel's peak of the total is at least any sampled part

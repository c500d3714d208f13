"""armcost.threads: a multi-threaded run's instructions split into busy and waiting by function, so that the
busy part (the work) repeats exactly while the waiting part follows the host's scheduling.

The split itself is pure Python (first test). The slow test counts edgevlm-run on the tiny model at -t 4 twice
(atomic mode, OMP_WAIT_POLICY=passive) and checks the vision stages' busy counts agree within 1e-5 (measured:
identical, or ~5e-6 apart from malloc's per-thread arenas), while the waiting counts differ from run to run."""
from __future__ import annotations

import pytest

from edgevlm.armcost.dump import parse_dump
from edgevlm.armcost.symbols import Symbols
from edgevlm.armcost.threads import count_work, is_waiting, split_work

DUMP = """edgevlm-qemu-cost 1
total 190
vcpus 4
stage 2 190 1
block 1000 4 - 2:10
block 2000 5 - 2:20
block 3000 5 - 2:10
"""
SYMS = Symbols([0x1000, 0x2000, 0x3000], [0x1100, 0x2100, 0x3100],
               ["q8::gemm(...)", "gomp_barrier_wait_end", "ggml_barrier"])


def test_waiting_functions_are_split_out():
    work = split_work(parse_dump(DUMP), SYMS)
    assert work["vit"].busy == 40 and work["vit"].waiting == 150
    assert is_waiting("gomp_team_barrier_wait_end") and is_waiting("futex_wait") and is_waiting("edgevlm::Team::barrier()")
    assert not is_waiting("ggml_compute_forward_mul_mat") and not is_waiting("edgevlm::f16::gemm(...)")


@pytest.mark.cross
@pytest.mark.native
@pytest.mark.slow
def test_four_thread_work_repeats(cost_tools, tiny_files):
    runner, _ = cost_tools
    argv = [str(runner), "-m", "model.gguf", "--mmproj", "mmproj.gguf", "--image", "image.png", "-p", "What?",
            "-t", "4", "-n", "1", "--ignore-eos", "--no-stream", "--off", "overlap", "--mem-available", "8000000000"]
    a, b = (count_work(argv, cwd=tiny_files, timeout=900) for _ in range(2))
    for stage in ("vit", "projector"):   # usually exact; glibc malloc's per-thread arenas may move ~1e-6
        assert a[stage].busy > 0 and abs(a[stage].busy - b[stage].busy) <= 1e-5 * a[stage].busy, \
            (stage, a[stage], b[stage])

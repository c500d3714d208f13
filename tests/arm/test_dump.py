"""armcost.dump.without_stages: a noisy stage (edgevlm-run's FINISH) taken out of a dump before the cycle model is
built, so that its run-to-run wobble cannot move the other stages' estimates (bench/sim.py). Pure Python."""
from edgevlm.armcost.dump import parse_dump, without_stages

DUMP = """edgevlm-qemu-cost 1
total 170
vcpus 1
stage 1 100 1
stage 8 70 1
block 1000 4 - 1:10,8:5
block 2000 5 - 8:10
block 3000 6 - 1:10
"""


def test_without_a_stage_its_executions_blocks_and_counts_are_gone():
    quiet = without_stages(parse_dump(DUMP), {8})
    assert quiet.total == 100 and quiet.stages == {1: (100, 1)} and quiet.vcpus == 1
    assert [(b.pc, b.execs) for b in quiet.blocks] == [(0x1000, {1: 10}), (0x3000, {1: 10})]
    assert sum(b.insns() for b in quiet.blocks) == quiet.total   # the stages still partition the total


def test_two_runs_differing_only_in_that_stage_become_equal():
    noisier = DUMP.replace("total 170", "total 175").replace("stage 8 70 1", "stage 8 75 1") \
        .replace("block 2000 5 - 8:10", "block 2000 5 - 8:11")
    assert without_stages(parse_dump(DUMP), {8}) == without_stages(parse_dump(noisier), {8})

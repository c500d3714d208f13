#!/usr/bin/env python3
"""What the lab costs per cell: a 200-cell matrix over a real two-node Ray lab on 127.0.0.1 with several fake
phones per node, against the same cells benched directly (no Ray) on one phone.

    python -m benchmarks.lab_scale [--cells 200] [--phones-per-node 3] [--anchor-cells 20]

The workload is deliberately cheap (the stand-in edgevlm-run of tests/fakes, no sleep, 1 repetition), so what
is measured is the lab's own cost: scheduling, the per-host payload cache, device locks, preflight/deploy checks
over adb, storing. The anchor runs first in the same process on one of the same fake phones (bench_device, the
code a cell calls).

* wall: the matrix from submit to the last stored run; ideal = cells × anchor per-cell time / devices.
* scheduler overhead per cell = (wall × devices − Σ device-held time) / cells: how long a device sat idle
  per cell (Ray placement, result round trip, the driver's writes).
* in-cell overhead = mean device-held time per cell − the anchor's per-cell time (payload cache, lock, Ray worker).

Everything here shares one 2-core machine: the fake phones' adb protocol runs in this Python process, the phones'
"binaries" are shell scripts, Ray's processes and the driver compete for the same cores. Results:
benchmarks/results/lab-scale.{json,md}.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.common import RESULTS

OUT = RESULTS


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    import ray

    return {"platform": platform.platform(), "python": platform.python_version(), "cpu": cpu,
            "cpus": os.cpu_count(), "ray": ray.__version__}


def anchor(lab, model: Path, bundle_dir: Path, cells: int) -> list[float]:
    """The same cell, benched directly on one fake phone, `cells` times: seconds each."""
    from edgevlm.bench.request import DeviceRequest
    from edgevlm.bench.runner import BenchSpec
    from edgevlm.bench.session import bench_device
    from edgevlm.toolchain.bundle import bundle_from_dir
    from edgevlm.device.adb import AdbTransport

    node = lab.nodes[0]
    transport = AdbTransport(node.serials[-1], server_port=node.adb.port)
    bundle = bundle_from_dir(bundle_dir)
    spec = BenchSpec(repeat=1, warmup=0, prompt_tokens=16, gen=4)
    times = []
    for _ in range(cells):
        t0 = time.monotonic()
        result = bench_device(DeviceRequest("fakephone", model, no_image=True, transport=transport, bundle=bundle),
                              spec)
        assert result.error is None and result.records, result.error
        times.append(time.monotonic() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cells", type=int, default=200)
    parser.add_argument("--phones-per-node", type=int, default=3)
    parser.add_argument("--anchor-cells", type=int, default=20)
    args = parser.parse_args()

    from edgevlm.lab.matrix import load_matrix
    from edgevlm.lab.run import run_matrix
    from edgevlm.store import ResultsStore
    from tests.fakes.standin_run import random_model, standin_bundle
    from tests.lab.conftest import PROFILE, start_lab, workdir_token, write_matrix

    root = Path(tempfile.mkdtemp(prefix="lab-scale-"))
    devices = root / "devices"
    devices.mkdir()
    (devices / "fakephone.toml").write_text(PROFILE.format(name="fakephone", token=workdir_token(root)))
    os.environ.update(EDGEVLM_DEVICES_DIR=str(devices), EDGEVLM_LAB_CACHE=str(root / "cache"),
                      XDG_RUNTIME_DIR=str(root / "run"))
    model = random_model(root / "tiny", 200_000, 50_000)
    bundle = standin_bundle(root / "bundle", sleep_s=0).path
    lab = start_lab(root, ("fakephone", "fakephone"), phones=args.phones_per_node)
    try:
        n_devices = sum(len(n.serials) for n in lab.nodes)
        direct = anchor(lab, model, bundle, args.anchor_cells)
        matrix = load_matrix(write_matrix(root / "scale.toml", [model], ["fakephone"], repeats=args.cells,
                                          bundle=bundle, branch="scale", commit="5ca1e000"))
        matrix = dataclasses.replace(matrix, reps=1)
        store = root / "scale.sqlite"
        result = run_matrix(matrix, lab.address, store)
        with ResultsStore(store) as db:
            stored = db.count()[0]
    finally:
        lab.stop()
    held = [a.ended - a.started for r in result.reports for a in r.attempts if a.ended]
    per_device: dict[str, int] = {}
    for r in result.reports:
        for a in r.attempts:
            per_device[a.serial] = per_device.get(a.serial, 0) + 1
    t_direct = statistics.median(direct)
    res = {
        "cells": args.cells, "devices": n_devices, "nodes": 2, "failed": len(result.failed), "runs_stored": stored,
        "wall_s": result.wall_s, "ideal_wall_s": args.cells * t_direct / n_devices,
        "anchor_cell_s_median": t_direct, "anchor_cells": len(direct),
        "lab_cell_held_s_median": statistics.median(held), "lab_cell_held_s_mean": statistics.mean(held),
        "scheduler_overhead_per_cell_s": (result.wall_s * n_devices - sum(held)) / args.cells,
        "in_cell_overhead_s": statistics.mean(held) - statistics.mean(direct),
        "cells_per_device": per_device, "machine": machine(),
    }
    res["wall_vs_ideal"] = res["wall_s"] / res["ideal_wall_s"]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "lab-scale.json").write_text(json.dumps(res, indent=2) + "\n")
    (OUT / "lab-scale.md").write_text(markdown(res))
    print(markdown(res))


def markdown(res: dict) -> str:
    m, phones = res["machine"], res["devices"] // res["nodes"]
    return f"""# Lab scale: {res['cells']} cells over {res['nodes']} Ray nodes × {phones} fake phones

Machine: {m['cpu']}, {m['cpus']} cores, {m['platform']}, Python {m['python']}, Ray {m['ray']}.
Workload: stand-in edgevlm-run (no sleep), 1 repetition, 16 prompt + 4 generated tokens. Command:
`python -m benchmarks.lab_scale --cells {res['cells']} --phones-per-node {phones}`

| quantity | value |
|---|---|
| cells / failed / runs stored | {res['cells']} / {res['failed']} / {res['runs_stored']} |
| wall time of the matrix | {res['wall_s']:.1f} s |
| anchor: one cell benched directly, no Ray (median of {res['anchor_cells']}) | {res['anchor_cell_s_median']:.2f} s |
| ideal wall = cells × anchor / devices | {res['ideal_wall_s']:.1f} s |
| wall / ideal | {res['wall_vs_ideal']:.2f}× |
| device held per cell in the lab (median / mean) | {res['lab_cell_held_s_median']:.2f} / \
{res['lab_cell_held_s_mean']:.2f} s |
| in-cell overhead (mean held − mean anchor) | {res['in_cell_overhead_s']:.2f} s |
| scheduler overhead per cell (device idle time per cell) | {res['scheduler_overhead_per_cell_s']:.2f} s |
| cells per device | {', '.join(str(v) for v in sorted(res['cells_per_device'].values()))} |
"""


if __name__ == "__main__":
    main()

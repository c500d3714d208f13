"""The device lab: one bench matrix across many hosts and their devices, on Ray, results in one store.

* ``node``: ``edgevlm lab head|join`` — discover this host's devices, preflight them, start a Ray node that
  advertises each healthy device as custom resources (``device:<serial>``, ``profile:<name>``).
* ``matrix``: MATRIX.toml → cells (models × quants × profiles × threads × workloads × repeats).
* ``payload``: model folders and bundles travel through Ray's object store into a per-host content-hash cache.
* ``cell``: what runs on a worker — lock one device of the cell's profile, bench, return the records.
* ``run``: the driver — submit cells, retry faults, store every run once, report.
* ``status``: hosts, devices, what runs, what is queued.

Ray is imported inside functions (``pip install 'edgevlm[lab]'``); see docs/lab.md.
"""

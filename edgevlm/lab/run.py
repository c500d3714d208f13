"""``edgevlm lab run MATRIX.toml``: the driver. Cells go to Ray as tasks; their records come back here and are
stored once each.

* Placement: a cell asks for ``profile:<name>`` (one device of that profile, on whichever host has one free),
  or for ``device:<serial>`` when a retry is pinned away from a device that failed; ``num_cpus=0``, so only
  devices bound how many cells run at once.
* A device that drops mid-cell: the records measured so far are stored marked partial, the cell runs again on
  another device of its profile (``retries`` times at most), else it is reported failed.
* A host that dies: Ray re-runs its tasks elsewhere (``max_retries``); a cell whose profile no living host
  offers any more is cancelled and reported failed instead of waiting forever.
* Exactly once: every run is written with the key ``<matrix id>/<cell>/<attempt>/<n>``, and the driver is the
  only writer, so a result that reaches it twice is still stored once.
* Ctrl-C: queued cells are cancelled; running ones get a KeyboardInterrupt inside the task, which kills the
  device process (edgevlm.device.tracked) before the task ends.
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from edgevlm.device.profiles import load_profile
from edgevlm.errors import LabError
from edgevlm.fingerprint import git_state
from edgevlm.lab.cell import CellJob, CellOutcome, run_cell
from edgevlm.lab.matrix import Cell, Matrix
from edgevlm.lab.models import model_folders
from edgevlm.lab.payload import Payload, put_folder
from edgevlm.lab.rayenv import connect
from edgevlm.store import ResultsStore
from edgevlm.store.record import RunRecord
from edgevlm.toolchain.bundle import bundle_from_dir, local_bundle

POLL_S = 1.0                 # how often the driver looks at the cluster while cells run
RAY_TASK_RETRIES = 3         # Ray's own re-runs when the host running a cell dies
CANCEL_GRACE_S = 30.0        # after Ctrl-C, how long running cells get to kill their device process


@dataclass
class CellReport:
    cell: Cell
    run_ids: list[int] = field(default_factory=list)
    attempts: list[CellOutcome] = field(default_factory=list)
    failure: str | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


@dataclass
class MatrixResult:
    matrix_id: str
    reports: list[CellReport]
    wall_s: float

    @property
    def failed(self) -> list[CellReport]:
        return [r for r in self.reports if not r.ok]


def run_matrix(matrix: Matrix, address: str, store: str | Path, *, progress=None) -> MatrixResult:
    ray = connect(address)
    t0 = time.monotonic()
    matrix_id = f"{matrix.name}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"
    cells = matrix.cells()
    payloads = _payloads(ray, matrix, progress)
    reports = {c.index: CellReport(c) for c in cells}
    task = progress.add_task(f"matrix {matrix.name}", total=len(cells)) if progress is not None else None
    with ResultsStore(store) as db:
        driver = _Driver(ray, matrix, matrix_id, payloads, db, reports, progress, task)
        driver.run(cells)
    return MatrixResult(matrix_id, [reports[c.index] for c in cells], time.monotonic() - t0)


def _payloads(ray, matrix: Matrix, progress=None) -> dict:
    folders = model_folders(matrix, progress)
    payloads = {folder: put_folder(ray, folder) for folder in set(folders.values())}
    out: dict = {"models": {key: payloads[folder] for key, folder in folders.items()}, "bundles": {}}
    for name in matrix.profiles:
        profile = load_profile(name)
        if profile.target in out["bundles"]:
            continue
        given = matrix.bundles.get(profile.target)
        bundle = bundle_from_dir(given) if given else local_bundle(profile.target)
        if bundle is None:
            raise LabError(f"no {profile.target} bundle for profile {name}",
                           hint=f"edgevlm build --target {profile.target}, or name one under [bundles] in the matrix")
        out["bundles"][profile.target] = (profile.target, put_folder(ray, bundle.path))
    out["target_of"] = {name: load_profile(name).target for name in matrix.profiles}
    return out


class _Driver:
    def __init__(self, ray, matrix: Matrix, matrix_id: str, payloads: dict, db, reports: dict, progress, task):
        self.ray, self.matrix, self.matrix_id, self.payloads, self.db = ray, matrix, matrix_id, payloads, db
        self.reports, self.progress, self.task = reports, progress, task
        self.remote = ray.remote(num_cpus=0, max_retries=RAY_TASK_RETRIES, retry_exceptions=False)(run_cell)
        self.pending: dict = {}          # ObjectRef -> CellJob

        here = git_state()
        self.commit_branch = (matrix.commit if matrix.commit is not None else here[0],
                              matrix.branch if matrix.branch is not None else here[1])

    def run(self, cells: list[Cell]) -> None:
        try:
            for cell in cells:
                self._submit(self._job(cell, attempt=0))
            while self.pending:
                ready, _ = self.ray.wait(list(self.pending), num_returns=1, timeout=POLL_S)
                for ref in ready:
                    self._finish(self.pending.pop(ref), self._outcome(ref))
                self._fail_unplaceable()
                self._publish()
        except KeyboardInterrupt:
            self._cancel_all()
            raise
        finally:
            self._publish(done=True)

    def _job(self, cell: Cell, attempt: int, pin: str | None = None, avoid: tuple[str, ...] = ()) -> CellJob:
        bundle: Payload = self.payloads["bundles"][self.payloads["target_of"][cell.profile]][1]
        return CellJob(self.matrix_id, cell, attempt, self.matrix.reps, self.matrix.warmup,
                       self.payloads["models"][(cell.model, cell.quant)], bundle, *self.commit_branch, pin, avoid)

    def _submit(self, job: CellJob) -> None:
        need = {f"device:{job.pin}": 1} if job.pin else {f"profile:{job.cell.profile}": 1}
        self.pending[self.remote.options(resources=need).remote(job)] = job

    def _outcome(self, ref) -> CellOutcome:
        from ray.exceptions import RayError  # lazy: ray, lab only

        try:
            return self.ray.get(ref)
        except RayError as exc:  # the host died more often than Ray re-runs, or the task was cancelled
            job = self.pending.get(ref)
            index = job.cell.index if job else -1
            return CellOutcome(index, -1, error=f"lost: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")

    def _finish(self, job: CellJob, outcome: CellOutcome) -> None:
        outcome.index, outcome.attempt = job.cell.index, job.attempt
        report = self.reports[job.cell.index]
        report.attempts.append(outcome)
        if outcome.records:
            records = []
            for body in outcome.records:
                record = RunRecord.from_dict(body, f"cell {job.cell.index}")
                record.extra["lab"].update(started=outcome.started, ended=outcome.ended)
                records.append(record)
            keys = [f"{self.matrix_id}/{job.cell.index}/{job.attempt}/{i}" for i in range(len(records))]
            report.run_ids += self.db.add_runs(records, keys=keys)
        if outcome.ok:
            self._advance()
            return
        other = self._other_device(job, outcome.serial)
        if job.attempt < self.matrix.retries and other:
            self._submit(self._job(job.cell, job.attempt + 1, pin=other, avoid=job.avoid + (outcome.serial,)))
            return
        report.failure = outcome.error or "no runs measured"
        if job.attempt < self.matrix.retries:
            report.failure += f" (no other device of profile {job.cell.profile} to retry on)"
        self._advance()

    def _advance(self) -> None:
        if self.progress is not None:
            self.progress.advance(self.task)

    def _alive_resources(self) -> set[str]:
        names: set[str] = set()
        for node in self.ray.nodes():
            if node.get("Alive"):
                names.update(node.get("Resources", {}))
        return names

    def _other_device(self, job: CellJob, failed_serial: str) -> str | None:
        """A device of the cell's profile on a living host that has not failed this cell."""
        prefix = f"profile:{job.cell.profile}/device:"
        tried = set(job.avoid) | {failed_serial}
        for name in sorted(self._alive_resources()):
            if name.startswith(prefix) and name[len(prefix):] not in tried:
                return name[len(prefix):]
        return None

    def _fail_unplaceable(self) -> None:
        """Cells whose resource no living host offers (their hosts died) would wait forever: fail them."""
        alive = self._alive_resources()
        for ref, job in list(self.pending.items()):
            need = f"device:{job.pin}" if job.pin else f"profile:{job.cell.profile}"
            if need not in alive:
                self.ray.cancel(ref, force=True)
                del self.pending[ref]
                self.reports[job.cell.index].failure = f"no living host offers {need} (its host left the lab)"
                self._advance()

    def _cancel_all(self) -> None:
        if not self.pending:
            return
        for ref in self.pending:
            self.ray.cancel(ref, force=False)   # KeyboardInterrupt inside running cells: device process killed
        self.ray.wait(list(self.pending), num_returns=len(self.pending), timeout=CANCEL_GRACE_S)
        for job in self.pending.values():
            self.reports[job.cell.index].failure = "cancelled (Ctrl-C)"
        self.pending.clear()

    def _publish(self, done: bool = False) -> None:
        """The matrix's state in the lab's key-value store, for `edgevlm lab status` on any machine."""
        from ray.experimental import internal_kv  # lazy: ray, lab only

        key = f"matrix/{self.matrix_id}"
        if done:
            internal_kv._internal_kv_del(key, namespace="edgevlm-lab")
            return
        finished = sum(1 for r in self.reports.values() if r.failure or any(a.ok for a in r.attempts))
        state = {"name": self.matrix.name, "cells": len(self.reports), "finished": finished,
                 "queued_or_running": len(self.pending), "updated": time.time()}
        internal_kv._internal_kv_put(key, json.dumps(state), overwrite=True, namespace="edgevlm-lab")

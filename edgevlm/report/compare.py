"""``compare(store, baseline, candidate, …) -> Report``: gather samples per group and judge each metric."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from edgevlm.errors import EdgeVLMError, StoreError
from edgevlm.report.model import GroupResult, HistoryPoint, Report, Role
from edgevlm.report.stats import MIN_SAMPLES, judge
from edgevlm.store.db import ResultsStore, StoredRun
from edgevlm.store.metrics import METRICS, get_metric

HISTORY_RUNS = 40  # runs drawn per chart: enough to see a trend, few enough to read the commit labels
Ref = str | Sequence[int]  # a ref string (run id, commit prefix, branch) or explicit run ids


class ReportInputError(EdgeVLMError):
    """A report option is malformed (threshold, window, alpha, format, metric)."""


@dataclass(frozen=True)
class GroupKey:
    device: str
    model: str
    quant: str
    workload: str
    metric: str

    @staticmethod
    def of(run: StoredRun, metric: str) -> "GroupKey":
        r = run.record
        return GroupKey(r.device_name, r.model_name, r.quant, r.workload, metric)


def compare(store: ResultsStore, baseline: Ref, candidate: Ref, *, metrics: Iterable[str] | None = None,
            threshold: float = 0.05, window: int = 5, alpha: float = 0.05,
            min_samples: int = MIN_SAMPLES) -> Report:
    """Judge every metric the candidate runs measured against the last ``window`` baseline runs of its group."""
    _check_options(threshold, window, alpha)
    wanted = {get_metric(m).name for m in metrics} if metrics else set(METRICS)
    cand_runs = _resolve(store, candidate)
    cand_ids = {r.id for r in cand_runs}
    base_runs = [r for r in _resolve(store, baseline) if r.id not in cand_ids]
    if not base_runs:
        raise StoreError("the baseline has no runs apart from the candidate's", hint="pick another --baseline")
    keys = sorted({GroupKey.of(r, m) for r in cand_runs for m in r.record.samples if m in wanted},
                  key=lambda k: (k.device, k.model, k.quant, k.workload, list(METRICS).index(k.metric)))
    if not keys:
        raise StoreError(f"the candidate runs hold no samples of {', '.join(sorted(wanted))}")
    groups = [_judge_group(store, k, base_runs, cand_runs, window, threshold, alpha, min_samples) for k in keys]
    throttled = {side: _throttled_count(groups, side) for side in ("baseline", "candidate")}
    return Report(_ref_text(baseline), _ref_text(candidate), threshold, alpha, window, str(store.path), groups,
                  throttled)


def _check_options(threshold: float, window: int, alpha: float) -> None:
    if not 0 < threshold < 10:
        raise ReportInputError(f"threshold {threshold!r} must be a fraction in (0, 10), e.g. 0.05 for 5%")
    if window < 1:
        raise ReportInputError(f"window {window} must be at least 1 baseline run")
    if not 0 < alpha < 1:
        raise ReportInputError(f"alpha {alpha!r} must be in (0, 1), e.g. 0.05")


def _resolve(store: ResultsStore, ref: Ref) -> list[StoredRun]:
    runs = store.resolve_ref(ref) if isinstance(ref, str) else store.runs(ids=ref)
    if not runs:
        raise StoreError(f"no runs for {_ref_text(ref)}")
    for run in runs:
        run.record.samples = store.samples(run.id)
    return runs


def _ref_text(ref: Ref) -> str:
    return ref if isinstance(ref, str) else "runs " + ",".join(str(i) for i in ref)


def _judge_group(store: ResultsStore, key: GroupKey, base_runs: list[StoredRun], cand_runs: list[StoredRun],
                 window: int, threshold: float, alpha: float, min_samples: int) -> GroupResult:
    cand = [r for r in cand_runs if GroupKey.of(r, key.metric) == key and r.record.samples.get(key.metric)]
    base_all = [r for r in base_runs if GroupKey.of(r, key.metric) == key and r.record.samples.get(key.metric)]
    base_window, base_throttled = _window(base_all, window)
    cand_used = [r for r in cand if not r.record.throttled]
    b = [v for r in base_window for v in r.record.samples[key.metric]]
    c = [v for r in cand_used for v in r.record.samples[key.metric]]
    metric = METRICS[key.metric]
    return GroupResult(
        key.device, key.model, key.quant, key.workload, key.metric, metric.unit, metric.better,
        judge(b, c, metric.better, threshold=threshold, alpha=alpha, min_samples=min_samples),
        [r.id for r in base_window], [r.id for r in cand_used], len(b), len(c),
        [r.id for r in base_throttled], [r.id for r in cand if r.record.throttled],
        _history(store, key, {r.id for r in base_window}, {r.id for r in cand_used}))


def _window(runs_newest_first: list[StoredRun], k: int) -> tuple[list[StoredRun], list[StoredRun]]:
    """The newest ``k`` unthrottled runs, and the throttled ones skipped on the way to them."""
    kept, skipped = [], []
    for run in runs_newest_first:
        if len(kept) == k:
            break
        (skipped if run.record.throttled else kept).append(run)
    return kept, skipped


def _history(store: ResultsStore, key: GroupKey, window_ids: set[int], cand_ids: set[int]) -> list[HistoryPoint]:
    runs = [r for r in store.runs(device=key.device, model=key.model)
            if r.record.quant == key.quant and r.record.workload == key.workload]
    points = []
    for run in runs:  # newest first
        values = store.samples(run.id).get(key.metric)
        if not values:
            continue
        role: Role = ("candidate" if run.id in cand_ids else "window" if run.id in window_ids
                      else "throttled" if run.record.throttled else "other")
        points.append(HistoryPoint(run.id, run.record.created, run.record.commit, role, values))
    keep = [p for p in points if p.role in ("candidate", "window")]
    rest = [p for p in points if p.role not in ("candidate", "window")][:max(0, HISTORY_RUNS - len(keep))]
    return sorted(keep + rest, key=lambda p: (p.created, p.run_id))


def _throttled_count(groups: list[GroupResult], side: str) -> int:
    """Distinct runs left out for throttling on one side (a run can sit in several groups)."""
    return len({i for g in groups for i in (g.throttled_baseline if side == "baseline" else g.throttled_candidate)})

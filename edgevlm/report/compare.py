"""``compare(store, baseline, candidate, …) -> Report``: like-for-like rows, each judged on its runs.

A row is model × quant × fingerprint (hardware, cores and mask, governor, threads, workload: see
edgevlm.fingerprint) × metric. A candidate row is compared only with baseline runs whose fingerprint key is equal;
when the baseline has runs of that model and quant but none alike, the report refuses (MixedRunsError, exit 2)
naming the fields that differ — unless ``allow_mixed``, when the closest baseline runs are used and the
differences go in the report's header.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from edgevlm import fingerprint as fp
from edgevlm.errors import MixedRunsError, ReportInputError, StoreError
from edgevlm.report.model import GroupResult, HistoryPoint, Report, Role
from edgevlm.report.stats import CONSECUTIVE, EXACT_THRESHOLD, MIN_RUNS, RULES, Rule, judge, judge_exact
from edgevlm.store.db import ResultsStore, StoredRun
from edgevlm.store.metrics import METRICS, get_metric

HISTORY_RUNS = 40  # runs drawn per chart: enough to see a trend, few enough to read the commit labels
Ref = str | Sequence[int]  # a ref string (run id, commit prefix, branch) or explicit run ids


@dataclass(frozen=True)
class CompareOptions:
    """How rows are judged: the threshold and the test, the baseline window, mixed input allowed or not."""
    threshold: float = 0.05
    window: int = 5
    alpha: float = 0.05
    min_runs: int = MIN_RUNS
    rule: Rule = "test"
    consecutive: int = CONSECUTIVE
    allow_mixed: bool = False
    exact_threshold: float = EXACT_THRESHOLD   # deterministic metrics (store.metrics: arm_*): one run a side


@dataclass
class _Run:
    stored: StoredRun
    fingerprint: dict[str, str]

    @property
    def id(self) -> int:
        return self.stored.id

    @property
    def record(self):
        return self.stored.record

    def key(self) -> tuple:
        r = self.stored.record
        return (r.model_name, r.quant, fp.comparable_key(self.fingerprint))


def compare(store: ResultsStore, baseline: Ref, candidate: Ref, options: CompareOptions | None = None, *,
            metrics: Iterable[str] | None = None, **changes: Any) -> Report:
    """Judge every metric the candidate runs measured against the last ``window`` like-for-like baseline runs.
    ``changes``: fields of ``options`` (CompareOptions) replaced, e.g. ``compare(store, a, b, window=5)``."""
    opts = replace(options or CompareOptions(), **changes)
    _check_options(opts)
    wanted = {get_metric(m).name for m in metrics} if metrics else set(METRICS)
    cand_runs = _resolve(store, candidate)
    cand_ids = {r.id for r in cand_runs}
    base_runs = [r for r in _resolve(store, baseline) if r.id not in cand_ids]
    if not base_runs:
        raise StoreError("the baseline has no runs apart from the candidate's", hint="pick another --baseline")
    rows = sorted({(r.key(), m) for r in cand_runs for m in r.record.samples if m in wanted},
                  key=lambda km: (km[0][:2], km[0][2], list(METRICS).index(km[1])))
    if not rows:
        raise StoreError(f"the candidate runs hold no samples of {', '.join(sorted(wanted))}")
    notes: list[str] = []
    groups = [_judge_row(store, key, metric, base_runs, cand_runs, opts, notes) for key, metric in rows]
    throttled = {side: _throttled_count(groups, side) for side in ("baseline", "candidate")}
    return Report(_ref_text(baseline), _ref_text(candidate), opts.threshold, opts.alpha, opts.window,
                  str(store.path), groups, throttled, min_runs=opts.min_runs, rule=opts.rule,
                  consecutive=opts.consecutive, allow_mixed=opts.allow_mixed,
                  notes=list(dict.fromkeys(notes)))


def _check_options(o: CompareOptions) -> None:
    if not 0 < o.threshold < 10:
        raise ReportInputError(f"threshold {o.threshold!r} must be a fraction in (0, 10), e.g. 0.05 for 5%")
    if o.window < 1:
        raise ReportInputError(f"window {o.window} must be at least 1 baseline run")
    if not 0 < o.alpha < 0.5:
        raise ReportInputError(f"alpha {o.alpha!r} must be in (0, 0.5), e.g. 0.05")
    if o.min_runs < 1:
        raise ReportInputError(f"--min-runs {o.min_runs} must be at least 1")
    if o.rule not in RULES:
        raise ReportInputError(f"unknown rule {o.rule!r}", hint=f"use one of {', '.join(RULES)}")
    if not 0 < o.exact_threshold < 1:
        raise ReportInputError(f"exact threshold {o.exact_threshold!r} must be a fraction in (0, 1), e.g. 0.005")
    if o.consecutive < 1:
        raise ReportInputError(f"--consecutive {o.consecutive} must be at least 1")


def _resolve(store: ResultsStore, ref: Ref) -> list[_Run]:
    runs = store.resolve_ref(ref) if isinstance(ref, str) else store.runs(ids=ref)
    if not runs:
        raise StoreError(f"no runs for {_ref_text(ref)}")
    for run in runs:
        run.record.samples = store.samples(run.id)
    return [_Run(r, fp.of_record(r.record)) for r in runs]


def _ref_text(ref: Ref) -> str:
    return ref if isinstance(ref, str) else "runs " + ",".join(str(i) for i in ref)


def _judge_row(store: ResultsStore, key: tuple, metric: str, base_runs: list[_Run], cand_runs: list[_Run],
               o: CompareOptions, notes: list[str]) -> GroupResult:
    cand = [r for r in cand_runs if r.key() == key and r.record.samples.get(metric)]
    cand_fp = cand[0].fingerprint
    pool = [r for r in base_runs if r.key()[:2] == key[:2] and r.record.samples.get(metric)]
    alike = [r for r in pool if r.key() == key]
    mixed: list[str] = []
    if pool and not alike:
        alike, mixed = _closest(pool, cand_fp, key, metric, o.allow_mixed)
        notes += [f"{_label(cand[0], metric)}: compared with unlike runs — {m}" for m in mixed]
    window, skipped = _window(alike, o.window)
    cand_used = sorted((r for r in cand if not r.record.throttled), key=lambda r: (r.record.created, r.id))
    if window:
        notes += [f"{_label(cand[0], metric)} differs from its baseline in {d.describe()} (under test, not refused)"
                  for d in fp.diff(window[0].fingerprint, cand_used[-1].fingerprint if cand_used else cand_fp,
                                   fp.SHOWN)]
    m = METRICS[metric]
    base_values, cand_values = [r.record.samples[metric] for r in window], [r.record.samples[metric] for r in cand_used]
    if m.deterministic:   # counted, not timed: no noise to test against (stats.judge_exact)
        judgement = judge_exact(base_values, cand_values, m.better, threshold=o.exact_threshold)
    else:
        judgement = judge(base_values, cand_values, m.better, threshold=o.threshold, alpha=o.alpha,
                          min_runs=o.min_runs, rule=o.rule, consecutive=o.consecutive)
    rec = cand[0].record
    return GroupResult(
        sorted({r.record.device_name for r in cand})[0], rec.model_name, rec.quant, rec.workload, metric, m.unit,
        m.better, judgement, [r.id for r in window], [r.id for r in cand_used],
        sum(len(r.record.samples[metric]) for r in window), sum(len(r.record.samples[metric]) for r in cand_used),
        [r.id for r in skipped], [r.id for r in cand if r.record.throttled],
        _history(store, {key, *(r.key() for r in window)}, metric, {r.id for r in window}, {r.id for r in cand_used}),
        threads=rec.threads, fingerprint=cand_fp, mixed=mixed)


def _closest(pool: list[_Run], cand_fp: dict[str, str], key: tuple, metric: str, allow: bool
             ) -> tuple[list[_Run], list[str]]:
    """The baseline runs whose fingerprint differs least from the candidate's (newest first on ties); refuses
    unless ``allow``."""
    best = min(pool, key=lambda r: len(fp.diff(cand_fp, r.fingerprint, fp.MUST_AGREE)))  # pool: newest first
    diffs = [d.describe() for d in fp.diff(best.fingerprint, cand_fp, fp.MUST_AGREE)]
    if not allow:
        raise MixedRunsError(
            f"no baseline run of {key[0]} {key[1]} ({metric}) was measured like the candidate's: "
            + "; ".join(diffs),
            hint="compare runs of the same hardware, threads and workload, or pass --allow-mixed to compare "
                 "anyway (the differences are then listed in the report's header)")
    return [r for r in pool if r.key() == best.key()], diffs


def _label(run: _Run, metric: str) -> str:
    r = run.record
    return f"{r.device_name} / {r.model_name} {r.quant} {r.workload} {metric}".replace("  ", " ")


def _window(runs_newest_first: list[_Run], k: int) -> tuple[list[_Run], list[_Run]]:
    """The newest ``k`` unthrottled runs, and the throttled ones skipped on the way to them."""
    kept, skipped = [], []
    for run in runs_newest_first:
        if len(kept) == k:
            break
        (skipped if run.record.throttled else kept).append(run)
    return kept, skipped


def _history(store: ResultsStore, keys: set[tuple], metric: str, window_ids: set[int], cand_ids: set[int]
             ) -> list[HistoryPoint]:
    models = {k[0] for k in keys}
    stored = [s for model in sorted(models) for s in store.runs(model=model)]
    points = []
    for s in stored:
        run = _Run(s, fp.of_record(s.record))
        if run.key() not in keys:
            continue
        values = store.samples(run.id).get(metric)
        if not values:
            continue
        role: Role = ("candidate" if run.id in cand_ids else "window" if run.id in window_ids
                      else "throttled" if run.record.throttled else "other")
        points.append(HistoryPoint(run.id, run.record.created, run.record.commit, role, values))
    keep = [p for p in points if p.role in ("candidate", "window")]
    rest = sorted((p for p in points if p.role not in ("candidate", "window")),
                  key=lambda p: (p.created, p.run_id), reverse=True)[:max(0, HISTORY_RUNS - len(keep))]
    return sorted(keep + rest, key=lambda p: (p.created, p.run_id))


def _throttled_count(groups: list[GroupResult], side: str) -> int:
    """Distinct runs left out for throttling on one side (a run can sit in several groups)."""
    return len({i for g in groups for i in (g.throttled_baseline if side == "baseline" else g.throttled_candidate)})

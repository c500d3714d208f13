"""What a report holds: one row per model × quant × fingerprint (hardware, threads, workload) × metric, plus
each row's history (one point per run) and the header notes (fingerprint differences)."""
from __future__ import annotations

import datetime as _dt
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from edgevlm.report.stats import VERDICTS, Judgement

Role = Literal["window", "candidate", "throttled", "other"]


@dataclass(frozen=True)
class HistoryPoint:
    """One run on a metric's history chart; ``role`` says whether it was compared, and on which side."""
    run_id: int
    created: str
    commit: str
    role: Role
    values: list[float]


@dataclass(frozen=True)
class GroupResult:
    device: str
    model: str
    quant: str
    workload: str
    metric: str
    unit: str
    better: str
    judgement: Judgement
    baseline_runs: list[int]
    candidate_runs: list[int]
    baseline_n: int
    candidate_n: int
    throttled_baseline: list[int]   # run ids left out for throttling
    throttled_candidate: list[int]
    history: list[HistoryPoint] = field(default_factory=list)
    threads: int | None = None
    fingerprint: dict[str, str] = field(default_factory=dict)  # the candidate's (edgevlm.fingerprint)
    mixed: list[str] = field(default_factory=list)  # must-agree fields that differ (only with allow_mixed)

    @property
    def verdict(self) -> str:
        return self.judgement.verdict


@dataclass
class Report:
    baseline_ref: str
    candidate_ref: str
    threshold: float
    alpha: float
    window: int
    store: str
    groups: list[GroupResult]
    throttled_excluded: dict[str, int]  # distinct runs left out per side: {"baseline": n, "candidate": m}
    min_runs: int = 3
    rule: str = "test"
    consecutive: int = 2
    allow_mixed: bool = False
    notes: list[str] = field(default_factory=list)  # fingerprint differences, for the header
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))

    @property
    def regressed(self) -> bool:
        return any(g.verdict == "regression" for g in self.groups)

    def counts(self) -> Counter:
        return Counter(g.verdict for g in self.groups)

    def sorted_groups(self) -> list[GroupResult]:
        """Regressions first, then improvements, noisy, insufficient runs, no change."""
        return sorted(self.groups, key=lambda g: VERDICTS.index(g.verdict))

    def summary_line(self) -> str:
        counts = self.counts()
        plural = {"regression": "regressions", "improvement": "improvements"}
        parts = [f"{counts[v]} {plural.get(v, v) if counts[v] != 1 else v}"
                 for v in VERDICTS if counts[v]]
        status = "REGRESSION" if self.regressed else "OK"
        throttled = sum(self.throttled_excluded.values())
        rule = (f"alpha {self.alpha:g}" if self.rule == "test"
                else f"{self.consecutive} consecutive runs beyond the threshold")
        mixed = "; MIXED fingerprints allowed" if any(g.mixed for g in self.groups) else ""
        return (f"{status}: {', '.join(parts) or 'nothing compared'} — {self.candidate_ref} vs baseline "
                f"{self.baseline_ref} (window {self.window} runs), threshold {self.threshold:.1%}, {rule}"
                f"; {throttled} throttled run{'s' if throttled != 1 else ''} excluded{mixed}")

    def to_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["summary"] = self.summary_line()
        body["regressed"] = self.regressed
        body["counts"] = dict(self.counts())
        return body

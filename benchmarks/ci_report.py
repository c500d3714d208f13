#!/usr/bin/env python3
"""Dogfooding: report the project's own bench records against the baseline committed in the repository.

    python benchmarks/ci_report.py CANDIDATE.json [...] [--baseline-dir benchmarks/results/baseline]
           [--threshold 5%] [--window 5] [--out DIR]

Imports every ``*.json`` record in the baseline folder and the candidate file(s) into a temporary store, runs
``edgevlm.report.compare`` (baseline = the committed runs, candidate = the given ones) and prints the Markdown.
Only like-for-like runs are compared (edgevlm.fingerprint): records measured on another machine are not a
baseline for this one, and the script says so.
It is informational: these CI machines are shared and noisy, so it ALWAYS exits 0, whatever it finds or fails on.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from edgevlm.errors import EdgeVLMError  # noqa: E402
from edgevlm.report import MixedRunsError, compare, parse_threshold, to_markdown, write_report  # noqa: E402
from edgevlm.store import ResultsStore  # noqa: E402
from edgevlm.store.importing import load_file  # noqa: E402

DEFAULT_BASELINE = REPO / "benchmarks" / "results" / "baseline"


def report_markdown(candidates: list[Path], baseline_dir: Path, threshold: str, window: int,
                    out: Path | None) -> str:
    baseline_files = sorted(baseline_dir.glob("*.json"))
    if not baseline_files:
        return (f"edgevlm CI report: no baseline records in {baseline_dir} yet; nothing to compare "
                f"(commit real `edgevlm bench` records there to enable this report).")
    base = [r for f in baseline_files for r in load_file(f).records]
    cand = [r for f in candidates for r in load_file(f).records]
    with tempfile.TemporaryDirectory(prefix="edgevlm-ci-") as tmp, ResultsStore(Path(tmp) / "ci.sqlite") as store:
        base_ids, cand_ids = store.add_runs(base), store.add_runs(cand)
        report = compare(store, base_ids, cand_ids, threshold=parse_threshold(threshold), window=window)
    if out is not None:
        write_report(report, out, ["md", "html", "json"])
    return to_markdown(report)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("candidate", nargs="+", type=Path, help="edgevlm bench record file(s) of this build")
    ap.add_argument("--baseline-dir", type=Path, default=DEFAULT_BASELINE)
    ap.add_argument("--threshold", default="5%")
    ap.add_argument("--window", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None, help="also write report.md/html/json here")
    args = ap.parse_args(argv)
    try:
        print(report_markdown(args.candidate, args.baseline_dir, args.threshold, args.window, args.out))
    except MixedRunsError as exc:  # the committed baseline was measured on another machine or with other settings
        print(f"edgevlm CI report: the committed baseline is not like this run, nothing compared: {exc}")
    except EdgeVLMError as exc:  # informational: say what went wrong, never fail the CI job
        print(f"edgevlm CI report not produced: {exc}")
    except Exception:  # a bug in edgevlm itself: show it loudly, still informational
        traceback.print_exc()
        print("edgevlm CI report not produced: internal error (traceback on stderr)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

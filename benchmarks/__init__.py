"""Reproducible comparisons against the anchors, run side by side: `python -m benchmarks.<name>` from the
repository root (`make bench` runs them all). Shared helpers live in `benchmarks.common`; results (JSON + a
Markdown table, with the machine's description) go to benchmarks/results/."""

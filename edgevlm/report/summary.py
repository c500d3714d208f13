"""The report's compact terminal table (the files hold every column), shared by `edgevlm report` and the demo."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table

from edgevlm.report.table import fmt_change, fmt_ci, fmt_num, fmt_p, headlines, where


def print_summary(report) -> None:
    """A compact table for the terminal (the files hold every column): regressions first, one line each."""
    colours = {"regression": "bold red", "improvement": "green", "noisy": "yellow"}
    console = Console()
    if not console.is_terminal:  # CI logs and pipes: rich's 80-column default would wrap every row
        console = Console(width=130)
    for line in headlines(report):
        console.print(f"[bold red]REGRESSED[/] {line}", highlight=False)
    for note in report.notes:
        console.print(f"[yellow]note[/] {note}", highlight=False)
    places = sorted({where(g) for g in report.groups})
    title = report.summary_line() + (f"\n{places[0]}" if len(places) == 1 else "")
    table = Table(title=title, title_justify="left")
    columns = ("status", "metric", "baseline", "candidate", "change", "CI", "p", "runs b/c")
    for h in (columns if len(places) == 1 else columns[:1] + ("where",) + columns[1:]):
        table.add_column(h)
    for g in report.sorted_groups():
        j = g.judgement
        cells = [g.verdict, g.metric, fmt_num(j.baseline_median), fmt_num(j.candidate_median), fmt_change(g),
                 fmt_ci(g), fmt_p(g), f"{j.baseline_runs}/{j.candidate_runs}"]
        if len(places) > 1:
            cells.insert(1, where(g))
        table.add_row(*cells, style=colours.get(g.verdict))
    console.print(table)
    for reason in sorted({g.judgement.reason for g in report.groups if g.verdict == "insufficient runs"}):
        console.print(f"insufficient runs: {reason}", highlight=False)

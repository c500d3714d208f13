"""The verification report: named checks with a measured value, a stated tolerance and a verdict.

Rendered as a rich table on the terminal and as JSON on request. A check with `passed=None` is a measurement
that is reported but not judged (e.g. stock llama.cpp's distance from the true reference).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.table import Table

from edgevlm.files import write_text

@dataclass
class Check:
    name: str
    passed: bool | None
    value: str
    tolerance: str
    details: dict = field(default_factory=dict)


@dataclass
class VerifyReport:
    out_dir: str
    checkpoint: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.passed is not False for c in self.checks)

    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.passed is False]

    def to_dict(self) -> dict:
        return {"out_dir": self.out_dir, "checkpoint": self.checkpoint, "ok": self.ok,
                "checks": [asdict(c) for c in self.checks]}

    def write_json(self, path: Path) -> None:
        write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    def render(self, console) -> None:
        table = Table(title=f"edgevlm verify {self.out_dir}")
        for col in ("check", "value", "tolerance", "verdict"):
            table.add_column(col)
        verdicts = {True: "[green]pass[/]", False: "[bold red]FAIL[/]", None: "[dim]info[/]"}
        for c in self.checks:
            table.add_row(c.name, c.value, c.tolerance, verdicts[c.passed])
        console.print(table)

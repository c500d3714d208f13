"""Write a report's formats into a folder, each file under a temporary name first, then os.replace."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from edgevlm.errors import OutputError, ReportInputError
from edgevlm.report.html import to_html
from edgevlm.report.markdown import to_markdown
from edgevlm.report.model import Report
from edgevlm.files import write_text

FORMATS = {"md": ("report.md", to_markdown),
           "html": ("report.html", to_html),
           "json": ("report.json", lambda r: json.dumps(r.to_dict(), indent=2) + "\n")}


def parse_formats(text: str) -> list[str]:
    """``md,html,json`` → ["md", "html", "json"], exact names only."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    bad = [n for n in names if n not in FORMATS]
    if bad or not names:
        raise ReportInputError(f"unknown report format {bad[0] if bad else text!r}",
                               hint=f"use a comma-separated list of {', '.join(FORMATS)}")
    return list(dict.fromkeys(names))


def parse_threshold(text: str) -> float:
    """``5%`` → 0.05 and ``0.05`` → 0.05; a bare number ≥ 1 is refused rather than guessed."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ReportInputError(f"threshold {text!r} is not a number", hint="write it like 5% or 0.05") from None
    if not raw.endswith("%") and value >= 1:
        raise ReportInputError(f"threshold {text!r} is ambiguous", hint=f"write {raw}% or a fraction like 0.05")
    if not 0 < value < 10:
        raise ReportInputError(f"threshold {text!r} must be above 0% and below 1000%")
    return value


def write_report(report: Report, out_dir: str | Path, formats: Sequence[str]) -> list[Path]:
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create report folder {out}: {exc}") from None
    rendered = {name: FORMATS[name][1](report) for name in formats}  # render all before writing any
    written = []
    for name, text in rendered.items():
        write_text(out / FORMATS[name][0], text)
        written.append(out / FORMATS[name][0])
    return written

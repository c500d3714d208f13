"""What every benchmark shares: where results go, the machine's description, and writing the results."""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import psutil

from edgevlm.files import write_text
from edgevlm.toolchain.pin import LLAMA_CPP_COMMIT

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def machine() -> dict:
    """The machine a result was measured on (results are ratios on one machine; this says which)."""
    return {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "cpu": cpu_name(), "memory_bytes": psutil.virtual_memory().total, "llama_cpp_commit": LLAMA_CPP_COMMIT}


def table(header: list[str], rows: list[str]) -> list[str]:
    """A Markdown table: the header row, its separator, then the rows (each already a `| ... |` line)."""
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *rows]


def goals_line(goals: dict[str, bool]) -> str:
    """The closing line every results table ends with: each goal met or MISSED."""
    return "Goals: " + "; ".join(f"{k}: {'met' if ok else 'MISSED'}" for k, ok in goals.items())


def save(res: dict, name: str, render) -> None:
    """benchmarks/results/<name>.json (everything, raw samples included) and .md (the table), printed too."""
    res["loadavg_end"] = os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_text(RESULTS / f"{name}.json", json.dumps(res, indent=2) + "\n")
    write_text(RESULTS / f"{name}.md", render(res))
    print(render(res))

"""benchmarks/ci_report.py: informational, always exit 0; a real comparison when a baseline exists."""
import json
import subprocess
import sys
from pathlib import Path

from edgevlm.store import RunRecord

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "ci_report.py"


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def write_record(path, commit, factor):
    rec = RunRecord(device_name="host", model_name="tiny", quant="F16", commit=commit,
                    samples={"decode_tps": [100.0 * factor + i * 0.3 for i in range(8)]})
    path.write_text(json.dumps(rec.to_dict()))
    return path


def test_no_baseline_yet_says_so_and_exits_0(tmp_path):
    cand = write_record(tmp_path / "cand.json", "c1", 1.0)
    proc = run(cand, "--baseline-dir", tmp_path / "empty")
    assert proc.returncode == 0 and "no baseline records" in proc.stdout


def test_regression_is_reported_but_exit_is_0(tmp_path):
    base_dir = tmp_path / "baseline"
    base_dir.mkdir()
    write_record(base_dir / "a.json", "b1", 1.0)
    write_record(base_dir / "b.json", "b2", 1.0)
    cand = write_record(tmp_path / "cand.json", "c1", 0.7)
    proc = run(cand, "--baseline-dir", base_dir, "--out", tmp_path / "rep")
    assert proc.returncode == 0, proc.stderr
    assert "| **regression** | host | tiny |" in proc.stdout
    assert (tmp_path / "rep" / "report.html").exists()


def test_broken_candidate_is_reported_and_exit_is_0(tmp_path):
    base_dir = tmp_path / "baseline"
    base_dir.mkdir()
    write_record(base_dir / "a.json", "b1", 1.0)
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    proc = run(bad, "--baseline-dir", base_dir)
    assert proc.returncode == 0 and "not produced" in proc.stdout and "device_name" in proc.stdout

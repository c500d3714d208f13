"""`edgevlm report --records ... --baseline-dir ... --informational` (what benchmarks/ci_report.py did): always
exit 0; a real comparison when a baseline exists."""
import json
import subprocess
import sys

from edgevlm.store import RunRecord


def run(candidate, *args):
    return subprocess.run([sys.executable, "-m", "edgevlm", "report", "--records", str(candidate), "--informational",
                           *map(str, args)], capture_output=True, text=True, timeout=120)


FP = {"model": "Xeon", "soc": "Xeon", "cpu_model": "Xeon", "cores_online": "0-1"}


def write_record(path, commit, factors, fingerprint=FP):
    recs = [RunRecord(device_name="host", model_name="tiny", quant="F16", commit=commit, threads=2,
                      workload="p64+g32", device_fingerprint=dict(fingerprint),
                      samples={"decode_tps": [100.0 * f + i * 0.3 for i in range(8)]}).to_dict() for f in factors]
    path.write_text(json.dumps(recs))
    return path


def baseline(tmp_path):
    base_dir = tmp_path / "baseline"
    base_dir.mkdir()
    for i, f in enumerate([1.0, 1.01, 0.99, 1.005, 0.995]):
        write_record(base_dir / f"b{i}.json", f"b{i}", [f])
    return base_dir


def test_no_baseline_yet_says_so_and_exits_0(tmp_path):
    cand = write_record(tmp_path / "cand.json", "c1", [1.0])
    proc = run(cand, "--baseline-dir", tmp_path / "empty")
    assert proc.returncode == 0 and "no baseline records" in proc.stdout


def test_regression_is_reported_but_exit_is_0(tmp_path):
    cand = write_record(tmp_path / "cand.json", "c1", [0.7, 0.71, 0.69])
    proc = run(cand, "--baseline-dir", baseline(tmp_path), "--out", tmp_path / "rep")
    assert proc.returncode == 0, proc.stderr
    assert "| **regression** | host | tiny |" in proc.stdout
    assert (tmp_path / "rep" / "report.html").exists()


def test_baseline_of_another_machine_is_not_compared(tmp_path):
    cand = write_record(tmp_path / "cand.json", "c1", [0.7, 0.71, 0.69], {**FP, "cpu_model": "AMD EPYC"})
    proc = run(cand, "--baseline-dir", baseline(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "not like this run" in proc.stdout and "cpu_model: baseline 'Xeon', candidate 'AMD EPYC'" in proc.stdout
    assert "regression" not in proc.stdout


def test_broken_candidate_is_reported_and_exit_is_0(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    proc = run(bad, "--baseline-dir", baseline(tmp_path))
    assert proc.returncode == 0 and "not produced" in proc.stdout and "device_name" in proc.stdout


def test_without_informational_a_regression_exits_1_and_bad_input_2(tmp_path):
    cand = write_record(tmp_path / "cand.json", "c1", [0.7, 0.71, 0.69])
    proc = subprocess.run([sys.executable, "-m", "edgevlm", "report", "--records", str(cand), "--baseline-dir",
                           str(baseline(tmp_path))], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "| **regression** | host | tiny |" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "edgevlm", "report", "--records", str(cand)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--baseline-dir" in proc.stderr and "Traceback" not in proc.stderr

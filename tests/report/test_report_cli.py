"""`edgevlm report` end to end through the CLI: exit codes and the three output files."""
import base64
import json
import subprocess
import sys

import pytest

from edgevlm.cli import main
from edgevlm.store import ResultsStore, RunRecord

BASE = [21.0, 21.2, 20.8, 21.1, 20.9, 21.05]
RUN_LEVEL = [1.0, 1.01, 0.99, 1.005, 0.995]  # between-run effects of main's five runs
PHONE = {"model": "SM-G991B", "soc": "SM8350", "cores_online": "0-7", "cpu_mask": "f0", "governor": "schedutil"}


def run(commit, branch, created, factor, fingerprint=PHONE):
    return RunRecord(device_name="sd888", model_name="m", quant="Q4_K_M", commit=commit, branch=branch,
                     created=created, device_fingerprint=dict(fingerprint), threads=4, workload="p246+g128",
                     samples={"decode_tps": [v * factor for v in BASE],
                              "ttft_ms": [300.0, 302.0, 299.0, 301.0, 300.5]})


def seed_store(path, candidate_factor, candidate_fingerprint=PHONE):
    with ResultsStore(path) as store:
        for day in range(1, 6):
            store.add_run(run(f"aaaa000{day}", "main", f"2025-01-0{day}T00:00:00Z", RUN_LEVEL[day - 1]))
        for i in range(3):
            store.add_run(run("bbbb0001", "pr", f"2025-01-07T0{i}:00:00Z", candidate_factor * (1 + 0.003 * i),
                              candidate_fingerprint))


def run_cli(args):
    with pytest.raises(SystemExit) as exc:
        main(args)
        raise SystemExit(0)  # main returns normally on success
    return exc.value.code


@pytest.mark.parametrize("factor, code, verdict", [(0.85, 1, "regression"), (1.0, 0, "no change"),
                                                   (1.2, 0, "improvement")])
def test_exit_code_follows_verdicts_and_files_are_valid(tmp_path, capsys, factor, code, verdict):
    db, out = tmp_path / "s.sqlite", tmp_path / "rep"
    seed_store(db, factor)
    assert run_cli(["report", "--baseline", "main", "--candidate", "bbbb", "--store", str(db),
                    "--out", str(out)]) == code
    data = json.loads((out / "report.json").read_text())
    assert data["regressed"] == (code == 1)
    assert {g["metric"]: g["judgement"]["verdict"] for g in data["groups"]}["decode_tps"] == verdict
    md = (out / "report.md").read_text()
    assert md.startswith("**edgevlm report — ") and "| status | device |" in md
    assert f"| {verdict}" in md.replace("**", "")
    # what a reviewer needs first: one line per regressed metric with change, interval and runs
    assert ("Regressed:\n\n- **decode_tps (tok/s): " in md and "90% CI" in md and "3 candidate runs vs 5 baseline"
            in md) == (code == 1)
    html = (out / "report.html").read_text()
    png = html.split("data:image/png;base64,")[1].split("'")[0]
    assert base64.b64decode(png).startswith(b"\x89PNG\r\n\x1a\n")
    assert html.count("data:image/png;base64,") == 2  # one chart per row: decode_tps and ttft_ms
    assert "its interquartile range" in html  # the charts' legend: run medians with their spread
    assert verdict in capsys.readouterr().out  # the terminal summary
    assert not list(out.glob("*.tmp-*"))


@pytest.mark.parametrize("args, message", [
    (["--candidate", "nope"], "matches no run"),
    (["--threshold", "lots"], "threshold"),
    (["--format", "md,pdf"], "unknown report format"),
    (["--metric", "fps"], "unknown metric"),
])
def test_bad_input_exits_2_without_traceback(tmp_path, capsys, args, message):
    db = tmp_path / "s.sqlite"
    seed_store(db, 1.0)
    base = {"--baseline": "main", "--candidate": "bbbb"}
    opts = dict(base, **dict(zip(args[::2], args[1::2])))
    argv = ["report", "--store", str(db), "--out", str(tmp_path / "rep")] + [x for kv in opts.items() for x in kv]
    assert run_cli(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "rep").exists()  # nothing written on bad input


def test_mixed_fingerprints_exit_2_unless_allowed(tmp_path, capsys):
    db, out = tmp_path / "s.sqlite", tmp_path / "rep"
    seed_store(db, 1.0, {**PHONE, "cpu_mask": "70"})
    argv = ["report", "--baseline", "main", "--candidate", "pr", "--store", str(db), "--out", str(out)]
    assert run_cli(argv) == 2
    err = capsys.readouterr().err
    assert "cpu_mask: baseline 'f0', candidate '70'" in err and "--allow-mixed" in err and "Traceback" not in err
    assert not out.exists()
    assert run_cli(argv + ["--allow-mixed"]) == 0
    md = (out / "report.md").read_text()
    assert "Fingerprint differences:" in md and "cpu_mask: baseline 'f0', candidate '70'" in md


def test_min_runs_and_consecutive_options(tmp_path):
    db, out = tmp_path / "s.sqlite", tmp_path / "rep"
    seed_store(db, 0.85)
    base = ["report", "--baseline", "main", "--candidate", "pr", "--store", str(db), "--out", str(out)]
    assert run_cli(base + ["--min-runs", "4"]) == 0  # 3 candidate runs < 4: insufficient runs, not a regression
    assert "insufficient runs" in (out / "report.md").read_text()
    assert run_cli(base + ["--rule", "consecutive"]) == 1
    assert run_cli(base + ["--rule", "consecutive", "--consecutive", "4"]) == 0


def test_empty_and_missing_store_exit_2(tmp_path, capsys):
    ResultsStore(tmp_path / "empty.sqlite").close()
    assert run_cli(["report", "--baseline", "a", "--candidate", "b", "--store", str(tmp_path / "empty.sqlite")]) == 2
    assert "empty" in capsys.readouterr().err
    assert run_cli(["report", "--baseline", "a", "--candidate", "b", "--store", str(tmp_path / "none.sqlite")]) == 2


def test_subprocess_exit_code_one_for_ci(tmp_path):
    db = tmp_path / "s.sqlite"
    seed_store(db, 0.8)
    proc = subprocess.run([sys.executable, "-m", "edgevlm", "report", "--baseline", "main", "--candidate", "pr",
                           "--format", "md", "--store", str(db), "--out", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert (tmp_path / "r" / "report.md").exists() and not (tmp_path / "r" / "report.html").exists()

"""The device-bench workflow exists and every workflow is a valid GitHub workflow: check-jsonschema's vendored
schema, with the network closed (a sitecustomize that refuses every IP connection), so CI's offline run checks the same."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "device-bench.yml"
NO_NETWORK = '''
import socket
_connect = socket.socket.connect
def _refuse(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        raise OSError("network disabled by the test: the schema must come from the package")
    return _connect(self, address)
socket.socket.connect = _refuse
socket.create_connection = lambda *a, **k: (_ for _ in ()).throw(OSError("network disabled by the test"))
'''


def check(path: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(NO_NETWORK)
    env = {**os.environ, "PYTHONPATH": str(site), "HTTPS_PROXY": "http://127.0.0.1:9",
           "HTTP_PROXY": "http://127.0.0.1:9"}
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                           str(path)], capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize("workflow", sorted(WORKFLOW.parent.glob("*.yml")), ids=lambda p: p.name)
def test_workflows_are_valid_offline(tmp_path, workflow):
    proc = check(workflow, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok -- validation done" in proc.stdout


def test_device_bench_workflow_exists():
    assert WORKFLOW.is_file()  # the parametrized check above would pass vacuously without it


@pytest.mark.parametrize("old, new", [("runs-on: [self-hosted, linux, sd888]", "runs_on: sd888"),  # misspelt key
                                      ("cancel-in-progress: false", "cancel-in-progress: sometimes")])
def test_checker_rejects_a_broken_workflow(tmp_path, old, new):
    text = WORKFLOW.read_text()
    assert old in text
    broken = tmp_path / "broken.yml"
    broken.write_text(text.replace(old, new))
    proc = check(broken, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # 1: schema violation (not a crash, not the network)
    assert "network" not in (proc.stdout + proc.stderr).lower()


def test_workflow_does_what_docs_ci_says(tmp_path):
    from ruamel.yaml import YAML

    flow = YAML(typ="safe").load(WORKFLOW.read_text())
    job = flow["jobs"]["bench"]
    assert job["runs-on"] == ["self-hosted", "linux", "sd888"]
    steps = "\n".join(str(s.get("run", "")) + str(s.get("uses", "")) + str(s.get("with", "")) for s in job["steps"])
    for needed in ("make setup native-cross", "edgevlm bench --device sd888", "edgevlm report --baseline main",
                   'cat edgevlm-report/report.md >> "$GITHUB_STEP_SUMMARY"', "exit $status",
                   "actions/upload-artifact", "report.html"):
        assert needed in steps, needed
    assert {"push", "pull_request"} <= set(flow[True] if True in flow else flow["on"])  # YAML 1.1 reads `on` as True

"""`edgevlm devices --check arm64-sim` checks what counting needs on this host (the lab's own check), not a
phone's preflight: the arm64 bundle on an x86 host is what arm64-sim is for, not a refusal (issue 17 item 5)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

EDGEVLM = [sys.executable, "-m", "edgevlm"]
pytestmark = [pytest.mark.cross, pytest.mark.native]


def test_the_shipped_profile_passes_where_the_tools_are(cost_tools):
    out = subprocess.run([*EDGEVLM, "devices", "--check", "arm64-sim", "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    facts = json.loads(out.stdout)
    assert facts["ok"] and facts["refusals"] == [] and facts["bundle"]


def test_a_host_without_qemu_user_is_refused_naming_it(cost_tools, tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}            # no qemu-aarch64, no nm on this PATH
    out = subprocess.run([*EDGEVLM, "devices", "--check", "arm64-sim"], capture_output=True, text=True, env=env)
    assert out.returncode == 2, (out.stdout, out.stderr)
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "qemu-aarch64" in errors[0], out.stderr
    assert "Traceback" not in out.stderr


def test_a_folder_that_is_no_bundle_is_an_error(cost_tools, tmp_path):
    out = subprocess.run([*EDGEVLM, "devices", "--check", "arm64-sim", "--bundle", str(tmp_path)],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "not a folder written by `edgevlm build`" in out.stderr, out.stderr
